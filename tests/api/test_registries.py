"""Registry credentials through the API: fields, writes, checks, filters."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from gimlet.models import AuditAction, AuditEvent
from registries.checking import lock_key
from registries.models import Check, Registry, Status, Trigger
from tests.factories import (
    RegistryFactory,
    certificate_pem,
    dockerhub_token,
    github_token,
    self_signed_ca,
)

pytestmark = pytest.mark.django_db

REGISTRIES = "/api/v1/registries/"
READ_ONLY = {
    "token_hint",
    "status",
    "status_message",
    "checked_at",
    "last_valid_at",
    "expiring",
    "scopes",
    "certificate_subject",
    "certificate_fingerprint",
    "certificate_expires_at",
    "created_at",
    "updated_at",
}


@pytest.fixture
def enqueued():
    """Record the checks that registry writes enqueue after commit."""
    with mock.patch("registries.tasks.check_registry.delay") as delay:
        yield delay


def detail(registry):
    return f"{REGISTRIES}{registry.pk}/"


def test_registry_fields(world_a, admin_a):
    response = admin_a.get(detail(world_a.custom))

    body = response.json()
    assert set(body) == READ_ONLY | {
        "id",
        "environment",
        "kind",
        "name",
        "url",
        "login",
        "expires_at",
    }
    assert body["token_hint"].endswith(world_a.custom.token[-4:])
    assert body["certificate_subject"]
    assert len(body["certificate_fingerprint"]) == 64


def test_create_builtin_uses_default_url(world_a, admin_a):
    response = admin_a.post(
        REGISTRIES,
        {"environment": world_a.environment.pk, "kind": "builtin", "name": "local"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["url"] == "127.0.0.1:32447"
    assert response.json()["token_hint"] == ""


def test_create_ghcr(world_a, admin_a, enqueued, django_capture_on_commit_callbacks):
    token = github_token()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_a.post(
            REGISTRIES,
            {
                "environment": world_a.environment.pk,
                "kind": "ghcr",
                "name": "ghcr-two",
                "login": "octocat",
                "token": f"  {token}\n",
            },
            format="json",
        )

    body = response.json()
    assert response.status_code == 201
    assert body["url"] == "ghcr.io"
    assert body["token_hint"] == f"ghp_…{token[-4:]}"
    assert "token" not in body
    assert Registry.objects.get(pk=body["id"]).token == token
    enqueued.assert_called_once_with(body["id"], Trigger.SAVE)


def test_create_dockerhub_with_expiry(world_a, admin_a):
    expires = (timezone.now() + timedelta(days=3)).replace(microsecond=0)

    response = admin_a.post(
        REGISTRIES,
        {
            "environment": world_a.environment.pk,
            "kind": "dockerhub",
            "name": "hub-two",
            "login": "mydockerid",
            "token": dockerhub_token(),
            "expires_at": expires.isoformat(),
        },
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["expiring"] is True
    assert response.json()["url"] == "https://index.docker.io/v1/"


def test_create_custom_with_certificate(world_a, admin_a):
    ca, _ = self_signed_ca("Harbor CA")

    response = admin_a.post(
        REGISTRIES,
        {
            "environment": world_a.environment.pk,
            "kind": "custom",
            "name": "harbor",
            "url": "https://harbor.example.test/v2/",
            "login": "robot",
            "token": "robot-secret-123",
            "certificate": certificate_pem(ca),
        },
        format="json",
    )

    body = response.json()
    assert response.status_code == 201
    assert body["url"] == "https://harbor.example.test"
    assert "Harbor CA" in body["certificate_subject"]
    assert "certificate" not in body


@pytest.mark.parametrize(
    "body,field",
    [
        ({"kind": "ghcr", "login": "octocat", "token": "github_pat_x"}, "token"),
        ({"kind": "ghcr", "login": "octocat"}, "token"),
        ({"kind": "dockerhub", "login": "me@example.test"}, "login"),
        ({"kind": "custom", "url": "http://x.test", "login": "r", "token": "t"}, "url"),
        ({"kind": "builtin", "token": "anything"}, "token"),
        ({"kind": "builtin", "certificate": "junk"}, "certificate"),
        (
            {
                "kind": "ghcr",
                "login": "o",
                "token": github_token(),
                "expires_at": "2030-01-01T00:00:00Z",
            },
            "expires_at",
        ),
        ({"kind": "quay"}, "kind"),
        ({"kind": "builtin", "name": "ghcr"}, "name"),
        ({"kind": "builtin", "name": "Not A Label"}, "name"),
    ],
)
def test_create_rejects_with_field_error(body, field, world_a, admin_a):
    response = admin_a.post(
        REGISTRIES, {"environment": world_a.environment.pk, **body}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()


def test_read_only_fields_are_ignored(world_a, admin_a):
    response = admin_a.patch(
        detail(world_a.ghcr),
        {"status": "valid", "token_hint": "forged", "scopes": ["admin"]},
        format="json",
    )

    world_a.ghcr.refresh_from_db()
    assert response.status_code == 200
    assert world_a.ghcr.status == Status.UNCHECKED
    assert world_a.ghcr.scopes == []
    assert world_a.ghcr.token_hint != "forged"


def test_kind_and_environment_never_change(world_a, world_b, admin_a):
    other = type(world_a.environment).objects.create(
        tenant=world_a.tenant, name="other"
    )

    response = admin_a.put(
        detail(world_a.builtin),
        {"kind": "custom", "environment": other.pk, "name": "builtin"},
        format="json",
    )

    world_a.builtin.refresh_from_db()
    assert response.status_code == 200
    assert world_a.builtin.kind == "builtin"
    assert world_a.builtin.environment == world_a.environment


@pytest.mark.parametrize(
    "body", [{"name": "renamed"}, {"name": "renamed", "token": None}]
)
def test_omitted_token_is_kept(
    body, world_a, admin_a, enqueued, django_capture_on_commit_callbacks
):
    token = world_a.ghcr.token

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_a.patch(detail(world_a.ghcr), body, format="json")

    world_a.ghcr.refresh_from_db()
    assert response.status_code == 200
    assert world_a.ghcr.token == token
    assert world_a.ghcr.name == "renamed"
    enqueued.assert_not_called()


def test_new_token_rechecks_after_commit(
    world_a, admin_a, enqueued, django_capture_on_commit_callbacks
):
    world_a.ghcr.status = Status.VALID
    world_a.ghcr.save()
    token = github_token()

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_a.patch(detail(world_a.ghcr), {"token": token}, format="json")
        enqueued.assert_not_called()
    for callback in callbacks:
        callback()

    world_a.ghcr.refresh_from_db()
    assert response.status_code == 200
    assert response.json()["status"] == "unchecked"
    assert world_a.ghcr.token == token
    enqueued.assert_called_once_with(world_a.ghcr.pk, Trigger.SAVE)


def test_empty_certificate_removes_it(world_a, admin_a):
    response = admin_a.patch(detail(world_a.custom), {"certificate": ""}, format="json")

    world_a.custom.refresh_from_db()
    assert response.status_code == 200
    assert world_a.custom.certificate is None
    assert response.json()["certificate_subject"] == ""


def test_update_audited_without_secret(world_a, admin_a):
    token = github_token()

    admin_a.patch(detail(world_a.ghcr), {"token": token}, format="json")

    event = AuditEvent.objects.get(action=AuditAction.UPDATE)
    assert event.changes["token"] == ["(set)", "(set)"]
    assert token not in str(event.changes)


def test_delete_registry(world_a, admin_a):
    response = admin_a.delete(detail(world_a.dockerhub))

    assert response.status_code == 204
    assert not Registry.objects.filter(pk=world_a.dockerhub.pk).exists()
    assert AuditEvent.objects.filter(action=AuditAction.DELETE).exists()


def test_delete_used_registry_is_conflict(world_a, admin_a):
    response = admin_a.delete(detail(world_a.ghcr))

    assert response.status_code == 409
    assert "web in tenant-a/staging" in response.json()["detail"]
    assert Registry.objects.filter(pk=world_a.ghcr.pk).exists()


def test_validate_builtin(world_a, member_a):
    response = member_a.post(f"{detail(world_a.builtin)}validate/")

    check = Check.objects.get(registry=world_a.builtin)
    assert response.status_code == 200
    assert response.json()["checked_at"] is not None
    assert "nothing to check" in response.json()["status_message"]
    assert check.trigger == Trigger.MANUAL
    assert AuditEvent.objects.filter(
        action=AuditAction.CHECK, actor=world_a.member
    ).exists()


def test_validate_calls_check_manually(world_a, admin_a, monkeypatch):
    calls = []

    def fake_check(*, registry_id, trigger, actor):
        calls.append((registry_id, trigger, actor))
        Registry.objects.filter(pk=registry_id).update(status=Status.VALID)
        return Check(registry_id=registry_id, status=Status.VALID, trigger=trigger)

    monkeypatch.setattr("registries.api.views.registry_check", fake_check)

    response = admin_a.post(f"{detail(world_a.ghcr)}validate/")

    assert response.status_code == 200
    assert response.json()["status"] == "valid"
    assert calls == [(world_a.ghcr.pk, Trigger.MANUAL, world_a.admin)]


def test_validate_while_checking_is_conflict(world_a, admin_a):
    from django.core.cache import cache

    cache.set(lock_key(world_a.builtin.pk), "other-worker", 60)

    response = admin_a.post(f"{detail(world_a.builtin)}validate/")

    assert response.status_code == 409
    assert not Check.objects.exists()


def test_checks_newest_first(world_a, member_a):
    now = timezone.now()
    for hours, status in [
        (3, Status.INVALID),
        (1, Status.VALID),
        (2, Status.UNREACHABLE),
    ]:
        Check.objects.create(
            registry=world_a.ghcr,
            status=status,
            trigger=Trigger.SCHEDULE,
            created_at=now - timedelta(hours=hours),
        )

    response = member_a.get(f"{detail(world_a.ghcr)}checks/")

    statuses = [row["status"] for row in response.json()["results"]]
    assert statuses == ["valid", "unreachable", "invalid"]
    assert response.json()["count"] == 3


def test_checks_are_paginated(world_a, member_a):
    for _ in range(3):
        Check.objects.create(registry=world_a.ghcr, status="valid", trigger="save")

    response = member_a.get(f"{detail(world_a.ghcr)}checks/", {"page_size": 2})

    assert len(response.json()["results"]) == 2
    assert response.json()["next"]


def ids(response):
    return {row["id"] for row in response.json()["results"]}


def test_filter_by_kind_and_status(world_a, member_a):
    world_a.dockerhub.status = Status.EXPIRED
    world_a.dockerhub.save()

    by_kind = member_a.get(REGISTRIES, {"kind": "ghcr"})
    by_status = member_a.get(REGISTRIES, {"status": "expired"})

    assert ids(by_kind) == {world_a.ghcr.pk}
    assert ids(by_status) == {world_a.dockerhub.pk}


def test_filter_by_environment_and_tenant(world_a, superuser, world_b):
    from tests.api.conftest import client_for

    client = client_for(superuser)

    by_environment = client.get(REGISTRIES, {"environment": world_b.environment.pk})
    by_tenant = client.get(REGISTRIES, {"tenant": "tenant-a"})

    assert ids(by_environment) == {r.pk for r in world_b.registries}
    assert ids(by_tenant) == {r.pk for r in world_a.registries}


def test_filter_expiring(world_a, member_a):
    soon = timezone.now() + timedelta(days=2)
    later = timezone.now() + timedelta(days=200)
    RegistryFactory(
        environment=world_a.environment, name="later", custom=True, expires_at=later
    )
    world_a.dockerhub.expires_at = soon
    world_a.dockerhub.save()

    expiring = member_a.get(REGISTRIES, {"expiring": "true"})
    others = member_a.get(REGISTRIES, {"expiring": "false"})

    assert ids(expiring) == {world_a.dockerhub.pk}
    assert world_a.dockerhub.pk not in ids(others)
    assert len(ids(others)) == 4


def test_validate_is_throttled(world_a, member_a, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    rates = {**ScopedRateThrottle.THROTTLE_RATES, "registry-check": "2/minute"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)
    url = f"{detail(world_a.builtin)}validate/"

    statuses = [member_a.post(url).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert Check.objects.filter(registry=world_a.builtin).count() == 2


def test_custom_expiry_is_writable(world_a, admin_a):
    response = admin_a.patch(
        detail(world_a.custom), {"expires_at": "2030-01-01T00:00:00Z"}, format="json"
    )

    world_a.custom.refresh_from_db()
    assert response.status_code == 200
    assert response.json()["expires_at"] == "2030-01-01T00:00:00Z"
    assert world_a.custom.expires_at_source == "user"
