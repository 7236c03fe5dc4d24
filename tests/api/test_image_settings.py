"""Image settings: the registry must belong to the same environment."""

import pytest

from environments.models import ImageSettings
from tests.api.snapshots import database_snapshot
from tests.factories import EnvironmentFactory, RegistryFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/image-settings/"


def body(world, **changes):
    return {
        "environment": world.environment.pk,
        "app": "api",
        "registry": world.dockerhub.pk,
        **changes,
    }


def test_create_fills_default_repository(world_a, admin_a):
    response = admin_a.post(URL, body(world_a), format="json")

    assert response.status_code == 201
    assert response.json()["repository"] == f"{world_a.dockerhub.login}/api"
    assert response.json()["strategy"] == "dockerfile"
    assert response.json()["tag"] == "latest"


@pytest.mark.parametrize(
    "registry,repository",
    [
        ("builtin", "127.0.0.1:32447/api"),
        ("ghcr", "ghcr.io/{login}/api"),
        ("custom", "registry.example.test/{login}/api"),
    ],
)
def test_default_repository_per_kind(registry, repository, world_a, admin_a):
    chosen = getattr(world_a, registry)

    response = admin_a.post(URL, body(world_a, registry=chosen.pk), format="json")

    assert response.json()["repository"] == repository.format(
        login=chosen.login.lower()
    )


def test_registry_of_other_environment_is_refused(world_a, admin_a):
    other = EnvironmentFactory(tenant=world_a.tenant, name="production")
    foreign = RegistryFactory(environment=other, ghcr=True)
    before = database_snapshot()

    response = admin_a.post(URL, body(world_a, registry=foreign.pk), format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["registry"]
    assert "same environment" in response.json()["registry"][0]
    assert database_snapshot() == before


def test_registry_of_other_tenant_is_not_found(world_a, world_b, admin_a):
    response = admin_a.post(URL, body(world_a, registry=world_b.ghcr.pk), format="json")

    assert response.status_code == 400
    assert response.json() == {"registry": [f"Registry {world_b.ghcr.pk} not found."]}


def test_update_to_other_environment_registry_is_refused(world_a, admin_a):
    other = EnvironmentFactory(tenant=world_a.tenant, name="production")
    foreign = RegistryFactory(environment=other, dockerhub=True)
    url = f"{URL}{world_a.image_settings.pk}/"

    response = admin_a.patch(url, {"registry": foreign.pk}, format="json")

    world_a.image_settings.refresh_from_db()
    assert response.status_code == 400
    assert "registry" in response.json()
    assert world_a.image_settings.registry == world_a.ghcr


def test_duplicate_app_is_refused(world_a, admin_a):
    response = admin_a.post(URL, body(world_a, app="web"), format="json")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"app": "Web App"}, "app"),
        ({"strategy": "magic"}, "strategy"),
        ({"tag": "-bad"}, "tag"),
        ({"registry": None}, "registry"),
        ({"registry": "abc"}, "registry"),
        ({"environment": None}, "environment"),
    ],
)
def test_invalid_fields(changes, field, world_a, admin_a):
    response = admin_a.post(URL, body(world_a, **changes), format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_change_tag_and_delete(world_a, admin_a):
    url = f"{URL}{world_a.image_settings.pk}/"

    changed = admin_a.patch(url, {"tag": "v2.1"}, format="json")
    deleted = admin_a.delete(url)

    assert changed.json()["tag"] == "v2.1"
    assert deleted.status_code == 204
    assert (
        not ImageSettings.objects.exists()
        or not ImageSettings.objects.filter(pk=world_a.image_settings.pk).exists()
    )


def test_filter_by_environment(world_a, admin_a):
    other = EnvironmentFactory(tenant=world_a.tenant, name="production")
    registry = RegistryFactory(environment=other, ghcr=True)
    ImageSettings.objects.create(environment=other, app="api", registry=registry)

    response = admin_a.get(URL, {"environment": other.pk})

    assert [row["app"] for row in response.json()["results"]] == ["api"]
