from django_filters import rest_framework as filters

from environments.models import Environment, ImageSettings
from gimlet.api.filters import FilterSet, ReferenceFilter, SlugReferenceFilter
from gimlet.models import Tenant
from registries.models import Registry


class EnvironmentFilter(FilterSet):
    tenant = SlugReferenceFilter(
        model=Tenant,
        tenant_path="pk",
        to_field_name="slug",
        help_text="A tenant's slug.",
    )
    # Declared, not generated from Meta.fields: django-filter would query
    # the scoped default manager at import time to build them.
    name = filters.CharFilter()

    class Meta:
        model = Environment
        fields = ["tenant", "name"]


class ImageSettingsFilter(FilterSet):
    environment = ReferenceFilter(
        model=Environment, tenant_path="tenant", help_text="An environment's id."
    )
    registry = ReferenceFilter(
        model=Registry, tenant_path="environment__tenant", help_text="A registry's id."
    )
    app = filters.CharFilter()

    class Meta:
        model = ImageSettings
        fields = ["environment", "registry", "app"]
