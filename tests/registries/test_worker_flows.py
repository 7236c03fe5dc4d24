"""Sweeps, checks and alerts through a real Celery worker on Redis.

The worker runs in its own process against the test database (PostgreSQL)
and the Redis broker; GitHub is a local fake on loopback, set as the
trusted GIMLET_GITHUB_API_URL and GIMLET_GHCR_URL.
"""

import logging
import threading
import time

import pytest
from django.db.models import Count
from django.utils import timezone
from kombu import pools

from gimlet.celery import app as celery_app
from gimlet.models import Role
from registries import pauses, sweep
from registries.models import Alert, AlertKind, Check, Kind, Registry, Status
from registries.services import registry_create
from registries.tasks import check_registry, run_sweep
from tests.factories import (
    EnvironmentFactory,
    MembershipFactory,
    RegistryFactory,
    TenantFactory,
)
from tests.servers import FakeServer, Reply
from tests.smtp import SmtpServer
from tests.worker import Worker, flush_redis, require_worker_services, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SCOPES = "repo, write:packages"


class FakeGitHub(FakeServer):
    """GitHub's /user and ghcr.io's /token, with a latency and a mode."""

    def __init__(self, *, latency=0.0, status=200, headers=None):
        super().__init__()
        self.latency = latency
        self.status = status
        self.headers = headers or {}
        self.lock = threading.Lock()
        self.routes["/user"] = self.user
        self.routes["/token"] = Reply(200, body={"token": "registry-token"})

    def user(self, handler):
        time.sleep(self.latency)
        login = "octocat"
        if self.status != 200:
            return Reply(self.status, self.headers, {"message": "Bad credentials"})
        headers = {"X-OAuth-Scopes": SCOPES, **self.headers}
        return Reply(200, headers, {"login": login})

    def user_calls(self):
        return sum(1 for request in self.requests if request.path == "/user")


@pytest.fixture
def services():
    require_worker_services()
    flush_redis()
    yield
    flush_redis()


@pytest.fixture
def github():
    with FakeGitHub() as server:
        yield server


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def start_worker(tmp_path, github, smtp):
    workers = []

    def start(**env):
        settings = {
            "GIMLET_GITHUB_API_URL": github.url,
            "GIMLET_GHCR_URL": github.url,
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
            **env,
        }
        worker = Worker(tmp_path / "worker.log", **settings)
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()


def ghcr_registries(count, tenants=3):
    created = []
    for number in range(tenants):
        environment = EnvironmentFactory(tenant=TenantFactory())
        MembershipFactory(
            tenant=environment.tenant,
            role=Role.ADMIN,
            user__email=f"admin{number}@tenant.test",
        )
        for index in range(count // tenants):
            created.append(
                RegistryFactory(
                    ghcr=True,
                    name=f"ghcr-{index}",
                    login="octocat",
                    environment=environment,
                )
            )
    return created


def all_checked(registries):
    ids = [registry.pk for registry in registries]
    return lambda: (
        Registry.objects.filter(pk__in=ids, checked_at__isnull=False).count()
        == len(ids)
    )


def checks_per_registry():
    return dict(
        Check.objects.values("registry")
        .annotate(n=Count("id"))
        .values_list("registry", "n")
    )


def test_sweep_checks_every_credential_once(services, start_worker, github):
    registries = ghcr_registries(12)
    start_worker(GIMLET_VALIDATION_CONCURRENCY=4)

    run_sweep.delay()
    wait_until(all_checked(registries), timeout=60, message="every registry checked")

    counts = checks_per_registry()
    assert set(counts.values()) == {1}
    assert len(counts) == len(registries)
    assert github.user_calls() == len(registries)
    assert set(Registry.objects.values_list("status", flat=True)) == {Status.VALID}


def test_two_sweeps_at_once_run_one(services, start_worker, github):
    registries = ghcr_registries(9)
    start_worker(GIMLET_VALIDATION_CONCURRENCY=4)

    run_sweep.delay()
    run_sweep.delay()
    wait_until(all_checked(registries), timeout=60, message="every registry checked")
    time.sleep(3)

    assert set(checks_per_registry().values()) == {1}
    assert github.user_calls() == len(registries)


def test_killed_worker_ends_with_every_credential_checked(
    services, start_worker, github, smtp
):
    github.latency = 0.3
    github.status = 401
    registries = ghcr_registries(30)
    Registry.objects.update(status=Status.VALID, last_valid_at=timezone.now())
    env = {
        "GIMLET_VALIDATION_CONCURRENCY": 2,
        "CELERY_VISIBILITY_TIMEOUT": 6,
        "CELERY_UNACKED_RESTORE_INTERVAL": 1,
        "GIMLET_CHECK_LOCK_SECONDS": 5,
    }
    worker = start_worker(**env)

    run_sweep.delay()
    wait_until(lambda: Check.objects.count() >= 4, timeout=30, message="some checks")
    worker.kill()
    checked_before_restart = Check.objects.count()
    assert checked_before_restart < len(registries)
    start_worker(**env)
    wait_until(all_checked(registries), timeout=120, message="every registry checked")
    wait_until(
        lambda: not Alert.objects.filter(sent_at__isnull=True).exists(),
        timeout=60,
        message="every alert sent",
    )

    assert set(Registry.objects.values_list("status", flat=True)) == {Status.INVALID}
    alerts = Alert.objects.filter(kind=AlertKind.STATUS_CHANGE)
    assert alerts.count() == len(registries)
    mentions = [
        registry.name
        for message in smtp.messages
        for registry in registries
        if f"/registries/registry/{registry.pk}/change/"
        in message["message"].get_body(("plain",)).get_content()
    ]
    assert len(mentions) == len(registries)


def test_rate_limited_host_is_paused_for_every_worker(
    services, start_worker, github, settings
):
    settings.GIMLET_GITHUB_API_URL = github.url
    github.status = 429
    github.headers = {"Retry-After": "60"}
    registries = ghcr_registries(4, tenants=1)
    start_worker(GIMLET_VALIDATION_CONCURRENCY=1)

    run_sweep.delay()
    wait_until(
        lambda: Registry.objects.filter(status=Status.UNREACHABLE).exists(),
        timeout=30,
        message="the first check",
    )
    time.sleep(3)
    for registry in registries:
        check_registry.delay(registry.pk, "manual")
    time.sleep(3)

    assert github.user_calls() == 1
    assert pauses.host_paused_until(pauses.upstream_host(registries[0])) is not None


def reset_broker_pools():
    """Drop the process's broker pools, so the next send uses the new URL.

    kombu keeps connection and producer pools per broker URL for the whole
    process (kombu.pools), and Celery caches its producer pool. Closing one
    pool alone leaves a closed pool that later sends fail on.
    """
    pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def test_save_with_broker_down_succeeds_and_sweep_checks(
    services, django_capture_on_commit_callbacks, caplog
):
    environment = EnvironmentFactory()
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:9/0"
    reset_broker_pools()
    try:
        with caplog.at_level(logging.WARNING, logger="registries.services"):
            with django_capture_on_commit_callbacks(execute=True):
                registry = registry_create(
                    environment=environment, actor=None, kind=Kind.BUILTIN
                )
    finally:
        celery_app.conf.broker_url = original
        reset_broker_pools()

    assert Registry.objects.filter(pk=registry.pk).exists()
    warnings = [r for r in caplog.records if "Could not enqueue" in r.getMessage()]
    assert len(warnings) == 1
    assert str(registry.pk) in warnings[0].getMessage()

    started = sweep.sweep_start(scheduled=False)
    sweep.check_batch(started[2][0], started[1])

    assert Check.objects.filter(registry=registry, trigger="schedule").count() == 1
