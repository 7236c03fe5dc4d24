"""Filters by a related id: no query of their own, "not found" when empty."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_filters import rest_framework as filters

from environments.api.filters import EnvironmentFilter
from environments.models import Environment
from gimlet.api.filters import FilterSet
from registries.models import Registry
from tests.api.conftest import client_for
from tests.factories import EnvironmentFactory, RegistryFactory

pytestmark = pytest.mark.django_db


def test_environment_without_registries_gives_an_empty_list(world_a):
    empty = EnvironmentFactory(tenant=world_a.tenant, name="empty")

    response = client_for(world_a.member).get(
        "/api/v1/registries/", {"environment": empty.pk}
    )

    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_missing_environment_is_not_found(world_a):
    response = client_for(world_a.member).get(
        "/api/v1/registries/", {"environment": 987654}
    )

    assert response.status_code == 400
    assert response.json() == {"environment": ["Environment 987654 not found."]}


@pytest.mark.parametrize("value", ["abc", "1.5", "-", "%00"])
def test_malformed_environment_is_not_found(value, world_a):
    response = client_for(world_a.member).get(
        "/api/v1/registries/", {"environment": value}
    )

    assert response.status_code == 400
    assert response.json() == {"environment": [f"Environment {value} not found."]}


def test_missing_environment_on_page_two_is_not_found(world_a):
    response = client_for(world_a.member).get(
        "/api/v1/registries/", {"environment": 987654, "page": 2}
    )

    assert response.status_code == 400
    assert list(response.json()) == ["environment"]


def test_environment_filter_keeps_other_environments_out(world_a):
    other = EnvironmentFactory(tenant=world_a.tenant, name="canary-stage")
    Registry.objects.filter(pk=world_a.ghcr.pk).update(environment=other)

    response = client_for(world_a.member).get(
        "/api/v1/registries/", {"environment": other.pk}
    )

    assert [row["name"] for row in response.json()["results"]] == [world_a.ghcr.name]


def test_tenant_filter_by_slug(world_a, world_b):
    response = client_for(world_a.member).get(
        "/api/v1/environments/", {"tenant": world_a.tenant.slug}
    )

    assert [row["tenant"] for row in response.json()["results"]] == [
        world_a.tenant.slug
    ]


def test_unknown_tenant_slug_is_not_found(world_a):
    response = client_for(world_a.member).get(
        "/api/v1/environments/", {"tenant": "no-such-tenant"}
    )

    assert response.status_code == 400
    assert response.json() == {"tenant": ["Tenant no-such-tenant not found."]}


def test_registry_filter_of_image_settings(world_a):
    response = client_for(world_a.member).get(
        "/api/v1/image-settings/", {"registry": world_a.ghcr.pk}
    )

    assert response.status_code == 200
    assert {row["registry"] for row in response.json()["results"]} == {world_a.ghcr.pk}


def test_form_class_shared_without_request_filters(rf):
    first = EnvironmentFilter(data={}, request=rf.get("/"))
    second = EnvironmentFilter(data={}, request=rf.get("/"))

    assert type(first.form) is type(second.form)


def test_form_class_per_request_with_model_choice(rf):
    class ChoiceFilter(FilterSet):
        environment = filters.ModelChoiceFilter(
            queryset=lambda request: Environment.objects.none()
        )

        class Meta:
            model = Registry
            fields = ["environment"]

    first = ChoiceFilter(data={}, request=rf.get("/"))
    second = ChoiceFilter(data={}, request=rf.get("/"))

    assert type(first.form) is not type(second.form)


def test_shared_form_fields_keep_requests_apart(rf):
    """Two forms of one class validate their own data with the shared fields."""
    first = EnvironmentFilter(data={"name": "prod"}, request=rf.get("/"))
    second = EnvironmentFilter(data={"name": "dev"}, request=rf.get("/"))

    assert first.is_valid()
    assert second.is_valid()
    assert first.form.cleaned_data["name"] == "prod"
    assert second.form.cleaned_data["name"] == "dev"


@pytest.mark.parametrize("value", ["maybe", "yes", "%00", "2"])
def test_unknown_boolean_is_an_error(value, world_a):
    response = client_for(world_a.member).get(
        "/api/v1/registries/", {"expiring": value}
    )

    assert response.status_code == 400
    assert response.json() == {"expiring": ["Enter true or false."]}


@pytest.mark.parametrize(
    "value,same_as", [("TRUE", "true"), ("1", "true"), ("0", "false"), ("", None)]
)
def test_boolean_spellings(value, same_as, world_a):
    client = client_for(world_a.member)
    RegistryFactory(
        environment=world_a.environment,
        name="soon",
        dockerhub=True,
        expires_at=timezone.now() + timedelta(days=2),
    )

    response = client.get("/api/v1/registries/", {"expiring": value})
    reference = client.get(
        "/api/v1/registries/", {} if same_as is None else {"expiring": same_as}
    )

    assert response.json()["results"] == reference.json()["results"]
