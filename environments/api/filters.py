from django_filters import rest_framework as filters

from environments.models import Environment, ImageSettings
from gimlet.api.scoping import scoped_choices
from gimlet.models import Tenant
from registries.models import Registry


class EnvironmentFilter(filters.FilterSet):
    tenant = filters.ModelChoiceFilter(
        queryset=scoped_choices(Tenant, "pk"),
        to_field_name="slug",
        help_text="A tenant's slug.",
        error_messages={"invalid_choice": "Tenant %(value)s not found."},
    )
    # Declared, not generated from Meta.fields: django-filter would query
    # the scoped default manager at import time to build them.
    name = filters.CharFilter()

    class Meta:
        model = Environment
        fields = ["tenant", "name"]


class ImageSettingsFilter(filters.FilterSet):
    environment = filters.ModelChoiceFilter(
        queryset=scoped_choices(Environment, "tenant"),
        help_text="An environment's id.",
        error_messages={"invalid_choice": "Environment %(value)s not found."},
    )
    registry = filters.ModelChoiceFilter(
        queryset=scoped_choices(
            Registry, "environment__tenant", lambda choices: choices.without_secrets()
        ),
        help_text="A registry's id.",
        error_messages={"invalid_choice": "Registry %(value)s not found."},
    )
    app = filters.CharFilter()

    class Meta:
        model = ImageSettings
        fields = ["environment", "registry", "app"]
