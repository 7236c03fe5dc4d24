"""Faults: the broker stops, the database drops connections, a registry fails.

- Redis stops: the web keeps serving reads and saves, /healthz reports the
  broker down, and checks resume once Redis is back. The Redis here is a
  private redis-server that the test starts and stops, never the shared one.
- PostgreSQL "restarts" during a sweep: the test terminates every other
  backend of the test database with pg_terminate_backend(), as a restart
  would, because the shared PostgreSQL server must keep running. The sweep
  recovers and every credential ends up checked.
- A registry returns 500 for a whole sweep: its credentials become
  unreachable, keep last_valid_at, and no alert is sent.
"""

import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from registries.models import Alert, Check, Kind, Registry, Status
from registries.tasks import run_sweep
from tests.factories import RegistryFactory
from tests.security.fakes import (
    FakeUpstream,
    celery_broker,
    ghcr_registries,
    tenant_with_admin,
)
from tests.security.processes import RedisServer
from tests.servers import make_ca, make_server_cert
from tests.worker import require_worker_services, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def all_checked_since(registries, moment):
    ids = [registry.pk for registry in registries]

    def done():
        return Registry.objects.filter(
            pk__in=ids, checked_at__gte=moment
        ).count() == len(ids)

    return done


# Redis stops and comes back.


@contextmanager
def web_on_redis(url):
    """Point this process's broker and cache, as the web uses them, at `url`."""
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "gimlet",
        }
    }
    with celery_broker(url):
        with override_settings(CACHES=caches, REDIS_URL=url, CELERY_BROKER_URL=url):
            yield


@pytest.fixture
def private_redis(tmp_path):
    require_worker_services()
    server = RedisServer(tmp_path / "redis.log").start()
    yield server
    server.stop()


def test_redis_outage(
    private_redis, start_worker, upstream, world, api, admin_site, tmp_path
):
    url = private_redis.url(0)
    environment = world.environment
    before_outage = ghcr_registries(environment, 3)
    with web_on_redis(url):
        start_worker(REDIS_URL=url, GIMLET_VALIDATION_CONCURRENCY=2)
        run_sweep.delay()
        wait_until(
            all_checked_since(before_outage, timezone.now() - timedelta(hours=1)),
            timeout=60,
            message="the first sweep",
        )

        private_redis.stop()
        started = time.monotonic()
        health = api.get("/healthz")
        listed = api.get("/api/v1/registries/")
        shown = api.get(f"/api/v1/registries/{before_outage[0].pk}/")
        created = api.post(
            "/api/v1/registries/",
            {
                "environment": environment.pk,
                "kind": Kind.GHCR,
                "name": "during-outage",
                "login": "octocat",
                "token": "ghp_" + "D" * 36,
            },
            format="json",
        )
        patched = api.patch(
            f"/api/v1/registries/{before_outage[1].pk}/",
            {"token": "ghp_" + "E" * 36},
            format="json",
        )
        admin_list = admin_site.get("/admin/registries/registry/")
        exported = api.get(f"/api/v1/environments/{environment.pk}/pull-secret/")
        validated = api.post(f"/api/v1/registries/{before_outage[0].pk}/validate/")
        login = api.post(
            "/api/v1/auth/token/",
            {"username": world.admin.username, "password": "pw-for-tests-1"},
            format="json",
        )
        outage_seconds = time.monotonic() - started

        assert health.status_code == 200
        assert health.json()["broker"]["status"] == "unavailable"
        assert listed.status_code == 200
        assert listed.json()["count"] == 3
        assert shown.status_code == 200
        assert created.status_code == 201, created.content
        assert patched.status_code == 200, patched.content
        assert admin_list.status_code == 200
        assert exported.status_code == 200
        assert validated.status_code == 503
        assert "ghcr.io" in exported.json()["auths"]
        # Without its counter the password exchange is not rate limited, so
        # it is refused until Redis is back.
        assert login.status_code == 429
        assert login["Retry-After"] == "30"
        assert outage_seconds < 60
        saved = Registry.objects.get(name="during-outage")
        assert saved.checked_at is None

        private_redis.start()
        resumed_at = timezone.now()
        assert api.get("/healthz").json()["broker"]["status"] == "ok"
        run_sweep.delay()
        everything = list(Registry.objects.all())
        wait_until(
            all_checked_since(everything, resumed_at),
            timeout=120,
            message="every credential checked after Redis returned",
        )
        after = api.post(
            "/api/v1/registries/",
            {
                "environment": environment.pk,
                "kind": Kind.GHCR,
                "name": "after-outage",
                "login": "octocat",
                "token": "ghp_" + "F" * 36,
            },
            format="json",
        )
        assert after.status_code == 201
        relogin = api.post(
            "/api/v1/auth/token/",
            {"username": world.admin.username, "password": "pw-for-tests-1"},
            format="json",
        )
        assert relogin.status_code == 200
        wait_until(
            lambda: Registry.objects.get(name="after-outage").checked_at is not None,
            timeout=60,
            message="the check of a credential saved after the outage",
        )

    assert set(Registry.objects.values_list("status", flat=True)) == {Status.VALID}


# The database drops every connection during a sweep.


def terminate_other_backends():
    """Terminate every connection to the test database except this one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_database_restart_during_sweep(services, start_worker, upstream):
    upstream.latency = 0.2
    environment = tenant_with_admin("admin@restart.test")
    registries = ghcr_registries(environment, 60)
    start_worker(
        GIMLET_VALIDATION_CONCURRENCY=4,
        CELERY_VISIBILITY_TIMEOUT=30,
        CELERY_UNACKED_RESTORE_INTERVAL=1,
    )
    started = timezone.now()

    run_sweep.delay()
    wait_until(lambda: Check.objects.count() >= 5, timeout=60, message="some checks")
    terminated = 0
    for _ in range(3):
        terminated += terminate_other_backends()
        time.sleep(0.5)
    checked_at_restart = Check.objects.count()
    wait_until(
        all_checked_since(registries, started),
        timeout=180,
        message="every credential checked after the restart",
    )

    assert terminated >= 1
    assert checked_at_restart < len(registries)
    assert set(Registry.objects.values_list("status", flat=True)) == {Status.VALID}


# A registry that returns 500 to every request of a sweep.


@pytest.fixture(scope="module")
def pki():
    ca = make_ca("Fault Test CA")
    return ca, make_server_cert(ca, ["127.0.0.1"])


def test_registry_500_for_whole_sweep(services, start_worker, upstream, smtp, pki):
    ca, server_cert = pki
    environment = tenant_with_admin("admin@outage.test")
    last_valid = timezone.now() - timedelta(hours=3)
    with FakeUpstream(server_cert) as registry_host:
        ghcr = ghcr_registries(environment, 4)
        custom = [
            RegistryFactory(
                custom=True,
                name=f"custom-{index}",
                environment=environment,
                url=registry_host.url,
                certificate=ca.cert_pem,
            )
            for index in range(4)
        ]
        everything = [*ghcr, *custom]
        Registry.objects.update(
            status=Status.VALID, last_valid_at=last_valid, checked_at=last_valid
        )
        upstream.status = 500
        registry_host.status = 500
        start_worker(GIMLET_VALIDATION_CONCURRENCY=4)
        started = timezone.now()

        run_sweep.delay()
        wait_until(
            all_checked_since(everything, started),
            timeout=90,
            message="every credential checked",
        )
        # Status alerts go out a few seconds after a check, so wait past that.
        time.sleep(8)

        assert registry_host.calls("/v2/") >= len(custom)
    assert upstream.calls("/user") >= len(ghcr)
    for registry in Registry.objects.filter(pk__in=[r.pk for r in everything]):
        assert registry.status == Status.UNREACHABLE, registry.status_message
        assert registry.last_valid_at == last_valid
        assert "Last valid at" in registry.status_message
    assert Alert.objects.count() == 0
    assert smtp.messages == []
    assert set(Check.objects.values_list("status", flat=True)) == {Status.UNREACHABLE}
