"""The registry_check service: storing results, history and single-flight."""

from datetime import UTC, datetime, timedelta

import pytest
import responses
import time_machine
from django.core.cache import cache

from gimlet.models import AuditAction, AuditEvent
from registries import checking
from registries.checking import lock_key, registry_check
from registries.models import Check, ExpirySource, Registry, Status, Trigger
from registries.validators import CheckResult
from tests.factories import RegistryFactory

API = "https://api.github.test"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def github(settings):
    settings.GIMLET_GITHUB_API_URL = API
    settings.GIMLET_GHCR_CHECK = False
    cache.clear()


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def github_answers(mocked, status=200, **headers):
    headers.setdefault("X-OAuth-Scopes", "repo, write:packages")
    body = {"login": "octocat"} if status == 200 else {"message": "Bad credentials"}
    mocked.get(f"{API}/user", status=status, json=body, headers=headers)


def run(registry, trigger=Trigger.SCHEDULE):
    check = registry_check(registry_id=registry.pk, trigger=trigger)
    registry.refresh_from_db()
    return check


@pytest.fixture
def registry():
    return RegistryFactory(ghcr=True, login="octocat")


class TestStoredResult:
    @time_machine.travel(NOW, tick=False)
    def test_valid_result_is_stored(self, mocked, registry):
        github_answers(mocked)

        run(registry)

        assert registry.status == Status.VALID
        assert registry.checked_at == NOW
        assert registry.last_valid_at == NOW
        assert registry.scopes == ["repo", "write:packages"]
        assert registry.retry_after is None

    def test_check_row_is_appended(self, mocked, registry):
        github_answers(mocked)

        check = run(registry, Trigger.SAVE)

        assert Check.objects.filter(registry=registry).count() == 1
        assert check.status == Status.VALID
        assert check.trigger == Trigger.SAVE
        assert check.http_status == 200
        assert check.message == registry.status_message
        assert check.duration_ms >= 0

    def test_every_check_appends_a_row(self, mocked, registry):
        github_answers(mocked)

        run(registry)
        run(registry)

        assert Check.objects.filter(registry=registry).count() == 2

    def test_expiry_from_github_is_recorded(self, mocked, registry):
        github_answers(
            mocked,
            **{"GitHub-Authentication-Token-Expiration": "2026-12-31 23:59:59 UTC"},
        )

        run(registry)

        assert registry.expires_at == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
        assert registry.expires_at_source == ExpirySource.REGISTRY

    def test_no_expiry_header_clears_registry_date(self, mocked, registry):
        Registry.objects.filter(pk=registry.pk).update(
            expires_at=NOW, expires_at_source=ExpirySource.REGISTRY
        )
        github_answers(mocked)

        run(registry)

        assert registry.expires_at is None
        assert registry.expires_at_source == ExpirySource.REGISTRY

    def test_unparsable_expiry_keeps_stored_date(self, mocked, registry):
        stored = NOW + timedelta(days=30)
        Registry.objects.filter(pk=registry.pk).update(
            expires_at=stored, expires_at_source=ExpirySource.REGISTRY
        )
        github_answers(mocked, **{"GitHub-Authentication-Token-Expiration": "soon"})

        run(registry)

        assert registry.status == Status.VALID
        assert registry.expires_at == stored

    def test_manual_check_is_audited(self, mocked, registry):
        github_answers(mocked)

        run(registry, Trigger.MANUAL)

        event = AuditEvent.objects.get(action=AuditAction.CHECK)
        assert event.target_id == registry.pk
        assert event.changes == {"status": [Status.UNCHECKED, Status.VALID]}

    def test_scheduled_check_is_not_audited(self, mocked, registry):
        github_answers(mocked)

        run(registry)

        assert not AuditEvent.objects.filter(action=AuditAction.CHECK).exists()


class TestExpiredRule:
    @time_machine.travel(NOW, tick=False)
    def test_401_after_known_expiry_is_expired(self, mocked, registry):
        Registry.objects.filter(pk=registry.pk).update(
            expires_at=NOW - timedelta(hours=1), expires_at_source=ExpirySource.REGISTRY
        )
        github_answers(mocked, status=401)

        check = run(registry)

        assert registry.status == Status.EXPIRED
        assert check.status == Status.EXPIRED
        assert "expired on 2026-06-01 11:00 UTC" in registry.status_message

    @time_machine.travel(NOW, tick=False)
    def test_401_before_known_expiry_is_invalid(self, mocked, registry):
        Registry.objects.filter(pk=registry.pk).update(
            expires_at=NOW + timedelta(days=3), expires_at_source=ExpirySource.REGISTRY
        )
        github_answers(mocked, status=401)

        run(registry)

        assert registry.status == Status.INVALID

    @time_machine.travel(NOW, tick=False)
    def test_401_after_user_entered_expiry_is_expired(self):
        registry = RegistryFactory(
            dockerhub=True,
            expires_at=NOW - timedelta(days=1),
            expires_at_source=ExpirySource.USER,
        )
        with responses.RequestsMock() as mocked:
            mocked.get(
                "https://auth.docker.io/token",
                status=401,
                json={"details": "incorrect username or password"},
            )
            run(registry)

        assert registry.status == Status.EXPIRED

    def test_user_entered_expiry_is_kept(self):
        entered = NOW + timedelta(days=60)
        registry = RegistryFactory(
            dockerhub=True, expires_at=entered, expires_at_source=ExpirySource.USER
        )
        with responses.RequestsMock() as mocked:
            mocked.get("https://auth.docker.io/token", json={"token": "opaque"})
            run(registry)

        assert registry.status == Status.VALID
        assert registry.expires_at == entered
        assert registry.expires_at_source == ExpirySource.USER


class TestUnreachable:
    def test_keeps_last_definitive_result(self, mocked, registry):
        valid_at = NOW - timedelta(days=1)
        Registry.objects.filter(pk=registry.pk).update(
            status=Status.VALID,
            last_valid_at=valid_at,
            scopes=["repo", "write:packages"],
            expires_at=NOW + timedelta(days=90),
            expires_at_source=ExpirySource.REGISTRY,
        )
        mocked.get(f"{API}/user", status=503, body="")

        run(registry)

        assert registry.status == Status.UNREACHABLE
        assert registry.last_valid_at == valid_at
        assert registry.scopes == ["repo", "write:packages"]
        assert registry.expires_at == NOW + timedelta(days=90)
        assert "Last valid at 2026-05-31 12:00 UTC" in registry.status_message

    @time_machine.travel(NOW, tick=False)
    def test_rate_limit_sets_retry_after(self, mocked, registry):
        mocked.get(
            f"{API}/user",
            status=403,
            json={"message": "API rate limit exceeded"},
            headers={
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int((NOW + timedelta(hours=1)).timestamp())),
            },
        )

        run(registry)

        assert registry.status == Status.UNREACHABLE
        assert registry.retry_after == NOW + timedelta(hours=1)

    def test_definitive_result_clears_retry_after(self, mocked, registry):
        Registry.objects.filter(pk=registry.pk).update(retry_after=NOW)
        github_answers(mocked)

        run(registry)

        assert registry.retry_after is None


class TestSingleFlight:
    def test_running_check_makes_second_skip(self, registry, monkeypatch):
        cache.add(lock_key(registry.pk), "another-worker", timeout=60)
        monkeypatch.setattr(
            checking, "validator_for", lambda kind: pytest.fail("validator was called")
        )

        check = run(registry)

        assert check is None
        assert not Check.objects.filter(registry=registry).exists()
        assert registry.status == Status.UNCHECKED

    def test_lock_is_released_after_check(self, mocked, registry):
        github_answers(mocked)

        run(registry)

        assert cache.get(lock_key(registry.pk)) is None

    def test_lock_is_released_after_error(self, registry, monkeypatch):
        class Broken:
            def validate(self, registry):
                raise RuntimeError("validator bug")

        monkeypatch.setattr(checking, "validator_for", lambda kind: Broken())

        with pytest.raises(RuntimeError):
            run(registry)

        assert cache.get(lock_key(registry.pk)) is None

    def test_another_owners_lock_is_not_released(self, registry, monkeypatch):
        class Slow:
            def validate(self, checked):
                # The lock expired meanwhile and another worker took it.
                cache.set(lock_key(checked.pk), "another-worker", timeout=60)
                return CheckResult(status=Status.VALID, message="ok")

        monkeypatch.setattr(checking, "validator_for", lambda kind: Slow())

        run(registry)

        assert cache.get(lock_key(registry.pk)) == "another-worker"

    def test_credential_changed_during_check_drops_result(self, registry, monkeypatch):
        class Racing:
            def validate(self, checked):
                Registry.objects.filter(pk=checked.pk).update(login="someone-else")
                return CheckResult(status=Status.VALID, message="ok")

        monkeypatch.setattr(checking, "validator_for", lambda kind: Racing())

        check = run(registry)

        assert check is None
        assert registry.status == Status.UNCHECKED
        assert not Check.objects.filter(registry=registry).exists()


def test_builtin_needs_no_credentials():
    registry = RegistryFactory()

    with responses.RequestsMock():
        check = run(registry)

    assert registry.status == Status.UNCHECKED
    assert "takes no credentials" in registry.status_message
    assert check.http_status is None
