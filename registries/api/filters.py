from django.conf import settings
from django_filters import rest_framework as filters

from environments.models import Environment
from gimlet.api.filters import (
    FilterSet,
    ReferenceFilter,
    SlugReferenceFilter,
    StrictBooleanFilter,
)
from gimlet.models import Tenant
from registries.models import Kind, Registry, Status


class RegistryFilter(FilterSet):
    tenant = SlugReferenceFilter(
        field_name="environment__tenant",
        model=Tenant,
        tenant_path="pk",
        to_field_name="slug",
        help_text="A tenant's slug.",
    )
    environment = ReferenceFilter(
        model=Environment, tenant_path="tenant", help_text="An environment's id."
    )
    kind = filters.ChoiceFilter(choices=Kind.choices)
    status = filters.ChoiceFilter(choices=Status.choices)
    expiring = StrictBooleanFilter(
        method="filter_expiring",
        help_text="true for credentials whose token or certificate expires "
        "within the warning window, false for the others.",
    )

    class Meta:
        model = Registry
        fields = ["tenant", "environment", "kind", "status", "expiring"]

    def filter_expiring(self, queryset, name, value):
        soon = queryset.expiring_within(settings.GIMLET_EXPIRING_WINDOW_DAYS)
        if value:
            return soon
        return queryset.exclude(pk__in=soon.values("pk"))
