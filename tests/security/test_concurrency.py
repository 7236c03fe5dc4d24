"""Concurrency: two beat processes, and two writers of one credential.

- Two celery beat processes by mistake send the sweep many times in one
  interval, yet the interval gets one sweep (the sweep's slot key in the
  shared cache, see registries/sweep.py).
- Two clients that update one credential at the same moment leave a row
  whose token decrypts and matches its fingerprint and hint.
- A create that loses the race for a name to another transaction gets the
  400 that a create after it gets, not a server error.
"""

import re
import threading
import time

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Count
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from registries.models import Check, Kind, Registry, Status
from registries.secrets import secret_fingerprint, secret_hint
from tests.api.conftest import client_for
from tests.conftest import require_server
from tests.security.fakes import ghcr_registries, tenant_with_admin
from tests.security.forms import submit
from tests.security.processes import Beat
from tests.worker import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SWEEP_TASK = "registries.sweep"


@pytest.fixture
def beats(tmp_path):
    started = []

    def start(count):
        for number in range(count):
            started.append(Beat(tmp_path / f"beat-{number}.log").start())
        return started

    yield start
    for beat in started:
        beat.stop()


def sweep_every_second():
    """Replace every schedule with one: the sweep, due every second."""
    PeriodicTask.objects.all().delete()
    every_second, _ = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.create(
        name="Sweep every second", task=SWEEP_TASK, interval=every_second
    )


def slot(moment):
    """The sweep interval `moment` falls in, as registries.sweep counts it."""
    seconds = settings.GIMLET_REVALIDATE_INTERVAL_MINUTES * 60
    return int(moment.timestamp() // seconds)


def test_two_beats_give_one_sweep(services, start_worker, beats):
    registries = ghcr_registries(tenant_with_admin("admin@beat.test"), 6)
    sweep_every_second()
    worker = start_worker(GIMLET_VALIDATION_CONCURRENCY=3)
    began = timezone.now()

    running = beats(2)
    wait_until(
        lambda: all(beat.log().count("Sending due task") >= 4 for beat in running),
        timeout=60,
        message="both beats sending the sweep",
    )
    for beat in running:
        beat.stop()
    ended = timezone.now()
    wait_until(
        lambda: (
            Registry.objects.filter(checked_at__isnull=False).count() == len(registries)
        ),
        timeout=60,
        message="the sweep's checks",
    )
    time.sleep(3)

    sent = sum(beat.log().count(f"({SWEEP_TASK})") for beat in running)
    received = len(re.findall(rf"Task {SWEEP_TASK}\[[^]]+\] received", worker.log()))
    intervals = slot(ended) - slot(began) + 1
    per_registry = Check.objects.values("registry").annotate(n=Count("id"))
    assert sent >= 8
    assert received >= 8
    assert worker.log().count("started: 6 credentials") == intervals
    assert {row["n"] for row in per_registry} == {intervals}
    assert "This interval was swept" in worker.log()


def update_token(client, registry_id, token, errors):
    try:
        response = client.patch(
            f"/api/v1/registries/{registry_id}/", {"token": token}, format="json"
        )
        if response.status_code != 200:
            errors.append((token, response.status_code, response.content[:200]))
    finally:
        connections.close_all()


def update_token_in_admin(client, registry_id, token, errors):
    try:
        response = submit(
            client,
            f"/admin/registries/registry/{registry_id}/change/",
            {"token": token},
        )
        if response.status_code != 302:
            errors.append((token, response.status_code, response.content[:200]))
    finally:
        connections.close_all()


def run_together(*calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=30)
        call()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)


def raw_token(registry):
    table = connection.ops.quote_name(Registry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT token FROM {table} WHERE id = %s", [registry.pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_concurrent_updates_leave_valid_token(world):
    # The suite's SQLite database lives in memory with a shared cache, whose
    # table locks fail a second writer at once instead of making it wait.
    require_server("PostgreSQL", connection.vendor == "postgresql")
    registry = Registry.objects.create(
        environment=world.environment,
        kind=Kind.CUSTOM,
        name="contended",
        url="https://contended.gimlet.test",
        login="robot",
        token="robot-token-initial-0",
        status=Status.VALID,
    )
    api_client = client_for(world.admin)
    admin_client = Client()
    admin_client.force_login(world.admin)
    written, errors = {"robot-token-initial-0"}, []

    for round_number in range(10):
        api_token = f"robot-token-api-{round_number}-{'a' * 12}"
        admin_token = f"robot-token-admin-{round_number}-{'b' * 12}"
        written |= {api_token, admin_token}
        run_together(
            lambda t=api_token: update_token(api_client, registry.pk, t, errors),
            lambda t=admin_token: update_token_in_admin(
                admin_client, registry.pk, t, errors
            ),
        )

        stored = Registry.objects.get(pk=registry.pk)
        assert stored.token in {api_token, admin_token}
        assert stored.token_fingerprint == secret_fingerprint(stored.token)
        assert stored.token_hint == secret_hint(stored.token)
        current_key = Fernet(settings.FIELD_ENCRYPTION_KEY[0])
        assert current_key.decrypt(raw_token(stored).encode()).decode() == stored.token

    assert errors == []
    assert Registry.objects.get(pk=registry.pk).token in written


def insert_and_hold(environment, name, inserted, request_started):
    """Insert a credential named `name`, then commit a second after the request.

    Until the commit, the request's validation cannot see the row, so the
    request's own insert is the one that breaks the unique index (it waits
    on the index for this transaction, then fails).
    """
    try:
        with transaction.atomic():
            Registry.objects.create(
                environment=environment,
                kind=Kind.BUILTIN,
                name=name,
                url="registry.gimlet.test",
            )
            inserted.set()
            request_started.wait(timeout=30)
            time.sleep(1)
    finally:
        connections.close_all()


def test_concurrent_creates_of_one_name_give_400(world):
    require_server("PostgreSQL", connection.vendor == "postgresql")
    api_client = client_for(world.admin)
    body = {"environment": world.environment.pk, "kind": "builtin", "name": "twin"}
    inserted, request_started = threading.Event(), threading.Event()
    holder = threading.Thread(
        target=insert_and_hold,
        args=(world.environment, "twin", inserted, request_started),
    )
    holder.start()
    assert inserted.wait(timeout=30)

    request_started.set()
    concurrent = api_client.post("/api/v1/registries/", body, format="json")
    holder.join(timeout=30)
    sequential = api_client.post("/api/v1/registries/", body, format="json")

    assert concurrent.status_code == 400, concurrent.content
    assert concurrent.json() == sequential.json()
    assert Registry._base_manager.filter(name="twin").count() == 1
