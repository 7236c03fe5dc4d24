"""Environments: CRUD, filters, per-tenant names and the pull secret."""

import base64
import json

import pytest
from rest_framework.throttling import ScopedRateThrottle

from environments.models import Environment
from gimlet.models import AuditAction, AuditEvent
from tests.api.conftest import client_for
from tests.factories import EnvironmentFactory, RegistryFactory

pytestmark = pytest.mark.django_db


def test_create_environment_audited(world_a, admin_a):
    response = admin_a.post(
        "/api/v1/environments/",
        {"tenant": "tenant-a", "name": "production"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["tenant"] == "tenant-a"
    assert AuditEvent.objects.filter(
        target_type="environments.environment",
        target_id=response.json()["id"],
        action=AuditAction.CREATE,
    ).exists()


def test_name_unique_within_tenant_only(world_a, world_b, admin_a):
    """Tenant B's "production" does not stop tenant A from using the name."""
    EnvironmentFactory(tenant=world_b.tenant, name="production")

    response = admin_a.post(
        "/api/v1/environments/",
        {"tenant": "tenant-a", "name": "production"},
        format="json",
    )

    assert response.status_code == 201


def test_duplicate_name_is_field_error(world_a, admin_a):
    response = admin_a.post(
        "/api/v1/environments/",
        {"tenant": "tenant-a", "name": "staging"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "name": ["This tenant already has an environment named staging."]
    }


@pytest.mark.parametrize("name", ["Prod", "-prod", "prod-", "a" * 64, "pr_od", ""])
def test_name_must_be_dns_label(name, world_a, admin_a):
    response = admin_a.post(
        "/api/v1/environments/", {"tenant": "tenant-a", "name": name}, format="json"
    )

    assert response.status_code == 400
    assert "name" in response.json()


def test_rename_keeps_tenant(world_a, world_b, admin_a):
    url = f"/api/v1/environments/{world_a.environment.pk}/"

    response = admin_a.put(url, {"name": "stage", "tenant": "tenant-b"}, format="json")

    world_a.environment.refresh_from_db()
    assert response.status_code == 200
    assert world_a.environment.name == "stage"
    assert world_a.environment.tenant == world_a.tenant


def test_delete_empty_environment(world_a, admin_a):
    empty = EnvironmentFactory(tenant=world_a.tenant, name="empty")

    response = admin_a.delete(f"/api/v1/environments/{empty.pk}/")

    assert response.status_code == 204
    assert not Environment.objects.filter(pk=empty.pk).exists()


def test_delete_environment_with_image_settings(world_a, admin_a):
    response = admin_a.delete(f"/api/v1/environments/{world_a.environment.pk}/")

    assert response.status_code == 204


def test_delete_of_registry_in_use_is_conflict(world_a, admin_a):
    response = admin_a.delete(f"/api/v1/registries/{world_a.ghcr.pk}/")

    assert response.status_code == 409
    assert "web in tenant-a/staging" in response.json()["detail"]


def test_filter_by_tenant(world_a, superuser, world_b):
    response = client_for(superuser).get(
        "/api/v1/environments/", {"tenant": "tenant-b"}
    )

    tenants = {row["tenant"] for row in response.json()["results"]}
    assert tenants == {"tenant-b"}


def pull_secret(client, environment, **params):
    return client.get(f"/api/v1/environments/{environment.pk}/pull-secret/", params)


def decode_auth(entry):
    return base64.b64decode(entry["auth"]).decode()


def test_pull_secret_entries_per_kind(world_a, admin_a):
    response = pull_secret(admin_a, world_a.environment)

    auths = response.json()["auths"]
    ghcr, dockerhub, custom = world_a.ghcr, world_a.dockerhub, world_a.custom
    assert set(auths) == {
        "ghcr.io",
        "https://index.docker.io/v1/",
        "registry.example.test",
    }
    assert auths["ghcr.io"] == {
        "username": ghcr.login,
        "password": ghcr.token,
        "auth": base64.b64encode(f"{ghcr.login}:{ghcr.token}".encode()).decode(),
    }
    assert decode_auth(auths["https://index.docker.io/v1/"]) == (
        f"{dockerhub.login}:{dockerhub.token}"
    )
    assert decode_auth(auths["registry.example.test"]) == (
        f"{custom.login}:{custom.token}"
    )


def test_pull_secret_keeps_custom_port_and_path(world_a, admin_a):
    world_a.custom.url = "https://registry.example.test:5443/team"
    world_a.custom.save()

    response = pull_secret(admin_a, world_a.environment)

    assert "registry.example.test:5443/team" in response.json()["auths"]


def test_pull_secret_without_credentials_is_empty(world_a, admin_a):
    empty = EnvironmentFactory(tenant=world_a.tenant, name="empty")
    RegistryFactory(environment=empty)

    response = pull_secret(admin_a, empty)

    assert response.json() == {"auths": {}}


def test_pull_secret_prefers_valid_duplicate(world_a, admin_a):
    second = RegistryFactory(
        environment=world_a.environment, ghcr=True, name="aaa-second"
    )
    world_a.ghcr.status = "valid"
    world_a.ghcr.save()

    response = pull_secret(admin_a, world_a.environment)

    assert response.json()["auths"]["ghcr.io"]["password"] == world_a.ghcr.token
    assert second.token != world_a.ghcr.token


def test_pull_secret_kubernetes_manifest(world_a, admin_a):
    plain = pull_secret(admin_a, world_a.environment).json()

    response = pull_secret(admin_a, world_a.environment, format="secret")

    manifest = response.json()
    assert response["Content-Type"] == "application/json"
    assert manifest["apiVersion"] == "v1"
    assert manifest["kind"] == "Secret"
    assert manifest["type"] == "kubernetes.io/dockerconfigjson"
    assert manifest["metadata"]["name"] == "staging-pull-secret"
    assert list(manifest["data"]) == [".dockerconfigjson"]
    decoded = json.loads(base64.b64decode(manifest["data"][".dockerconfigjson"]))
    assert decoded == plain


@pytest.mark.parametrize("params", [{}, {"format": "secret"}])
def test_pull_secret_is_not_cached(params, world_a, admin_a):
    response = pull_secret(admin_a, world_a.environment, **params)

    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


@pytest.mark.parametrize("params", [{}, {"format": "secret"}])
def test_pull_secret_export_audited(params, world_a, admin_a):
    pull_secret(admin_a, world_a.environment, **params)

    event = AuditEvent.objects.get(action=AuditAction.EXPORT)
    assert event.actor == world_a.admin
    assert event.target_id == world_a.environment.pk
    assert event.changes["registries"] == ["custom", "dockerhub", "ghcr"]
    for registry in world_a.registries:
        if registry.token:
            assert registry.token not in json.dumps(event.changes)


def test_member_cannot_export(world_a, member_a):
    response = pull_secret(member_a, world_a.environment)

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


def test_unknown_format_is_not_found(world_a, admin_a):
    response = pull_secret(admin_a, world_a.environment, format="yaml")

    assert response.status_code == 404


def test_pull_secret_is_throttled(world_a, admin_a, monkeypatch):
    rates = {**ScopedRateThrottle.THROTTLE_RATES, "pull-secret": "2/minute"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)

    statuses = [pull_secret(admin_a, world_a.environment).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT).count() == 2
