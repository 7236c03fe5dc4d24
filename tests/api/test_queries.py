"""Lists run a fixed number of queries and never decrypt a secret."""

from unittest import mock

import pytest

from registries import fields
from tests.api.conftest import client_for
from tests.factories import (
    EnvironmentFactory,
    MembershipFactory,
    RegistryFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# The token with its user's memberships, and the page with its count.
LIST_QUERIES = 2


@pytest.fixture
def caller(db):
    user = UserFactory()
    environment = EnvironmentFactory()
    MembershipFactory(user=user, tenant=environment.tenant)
    return user, environment


def fill(environment, count):
    kinds = [{"ghcr": True}, {"dockerhub": True}, {"custom": True}]
    for index in range(count):
        RegistryFactory(
            environment=environment, name=f"r{index}", **kinds[index % len(kinds)]
        )


@pytest.mark.parametrize("count", [10, 200])
def test_registry_list_queries(count, caller, django_assert_num_queries):
    user, environment = caller
    fill(environment, count)
    client = client_for(user)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get("/api/v1/registries/", {"page_size": 200})

    assert len(response.json()["results"]) == count


@pytest.mark.parametrize("count", [10, 200])
def test_registry_list_decrypts_nothing(count, caller):
    user, environment = caller
    fill(environment, count)
    client = client_for(user)

    with mock.patch.object(fields, "decrypt", wraps=fields.decrypt) as decrypt:
        response = client.get("/api/v1/registries/", {"page_size": 200})

    assert response.status_code == 200
    assert decrypt.call_count == 0


@pytest.mark.parametrize("count", [10, 200])
def test_filtered_list_queries(count, caller, django_assert_num_queries):
    """A filter by environment adds no query while the list has rows."""
    user, environment = caller
    fill(environment, count)
    client = client_for(user)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(
            "/api/v1/registries/",
            {"page_size": 200, "environment": environment.pk, "expiring": "false"},
        )

    assert len(response.json()["results"]) == count


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/environments/",
        "/api/v1/image-settings/",
        "/api/v1/tenants/",
    ],
)
@pytest.mark.parametrize("count", [10, 50])
def test_other_lists_queries(path, count, django_assert_num_queries):
    user = UserFactory()
    for index in range(count):
        environment = EnvironmentFactory(name=f"e{index}")
        MembershipFactory(user=user, tenant=environment.tenant)
        registry = RegistryFactory(environment=environment, ghcr=True)
        environment.image_settings.create(app="web", registry=registry)
    client = client_for(user)

    with mock.patch.object(fields, "decrypt", wraps=fields.decrypt) as decrypt:
        with django_assert_num_queries(LIST_QUERIES):
            response = client.get(path, {"page_size": 200})

    assert len(response.json()["results"]) == count
    assert decrypt.call_count == 0


def test_member_list_queries(world_a, admin_a, django_assert_num_queries):
    for _ in range(20):
        MembershipFactory(tenant=world_a.tenant)

    with django_assert_num_queries(LIST_QUERIES + 1):
        response = admin_a.get(f"/api/v1/tenants/{world_a.tenant.slug}/members/")

    assert response.json()["count"] == 22


@pytest.mark.parametrize("suffix", ["", "checks/"])
def test_registry_reads_decrypt_nothing(suffix, world_a, admin_a):
    url = f"/api/v1/registries/{world_a.custom.pk}/{suffix}"

    with mock.patch.object(fields, "decrypt", wraps=fields.decrypt) as decrypt:
        response = admin_a.get(url)

    assert response.status_code == 200
    assert decrypt.call_count == 0


def test_pull_secret_decrypts(world_a, admin_a):
    """The export is the one read that needs the plaintext."""
    url = f"/api/v1/environments/{world_a.environment.pk}/pull-secret/"

    with mock.patch.object(fields, "decrypt", wraps=fields.decrypt) as decrypt:
        response = admin_a.get(url)

    assert response.status_code == 200
    assert decrypt.call_count > 0
