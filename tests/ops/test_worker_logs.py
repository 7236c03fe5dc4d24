"""A real worker on Redis writes JSON lines that carry task ids."""

import json

import pytest
from django.utils import timezone

from registries.models import Check
from registries.tasks import check_batch, check_registry
from tests.factories import RegistryFactory
from tests.servers import FakeServer, Reply
from tests.worker import (
    Worker,
    flush_redis,
    require_worker_services,
    wait_until,
)

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path):
    """A worker that logs JSON and may call plain-HTTP registries on loopback."""
    require_worker_services()
    flush_redis()
    worker = Worker(
        tmp_path / "worker.log",
        DJANGO_LOG_FORMAT="json",
        GIMLET_ALLOW_HTTP_REGISTRIES="true",
        GIMLET_REGISTRY_ALLOWED_NETWORKS="127.0.0.0/8",
    ).start()
    yield worker
    worker.stop()
    flush_redis()


def json_records(worker):
    """Parse the worker's log records; fail on one that is not JSON.

    Celery prints its banner straight to the terminal before it logs that
    the worker is ready (celery 5.7, `celery --quiet` leaves it out).
    Before that line, only lines that start with "{" are records; after
    it, every line must be one.
    """
    lines = worker.log().splitlines()
    ready = next(
        (number for number, line in enumerate(lines) if " ready." in line), None
    )
    assert ready is not None, worker.log()[-3000:]
    banner = [line for line in lines[:ready] if line.startswith("{")]
    records = []
    for line in [*banner, *lines[ready:]]:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"a line of the worker log is not JSON: {line!r}")
    return records


def test_worker_log_is_json(worker):
    records = json_records(worker)

    assert any(record["message"].endswith(" ready.") for record in records)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)


def test_check_task_lines_carry_ids(worker):
    registry = RegistryFactory()

    result = check_registry.delay(registry.pk, "manual")
    wait_until(
        lambda: Check.objects.filter(registry=registry).exists(),
        timeout=30,
        message="the check",
    )
    wait_until(
        lambda: any(r.get("task_id") == result.id for r in json_records(worker)),
        timeout=10,
        message="a log line of the task",
    )
    checked = [
        record
        for record in json_records(worker)
        if record["logger"] == "registries.checking" and record.get("task_id")
    ]

    assert checked, worker.log()[-3000:]
    assert checked[-1]["task_id"] == result.id
    assert checked[-1]["task_name"] == "registries.check_registry"
    assert checked[-1]["registry_id"] == registry.pk
    assert checked[-1]["tenant_id"] == registry.environment.tenant_id
    assert checked[-1]["level"] == "INFO"


def test_batch_lines_carry_task_id(worker):
    """Every line that the project's code logs during a batch names it."""
    ids = [RegistryFactory().pk for _ in range(3)]

    result = check_batch.delay("sweep-1", 0, ids, timezone.now().isoformat())
    wait_until(
        lambda: Check.objects.filter(registry_id__in=ids).count() == 3,
        timeout=30,
        message="three checks",
    )
    wait_until(
        lambda: any(
            r["logger"] == "celery.app.trace" and result.id in r["message"]
            for r in json_records(worker)
        ),
        timeout=10,
        message="the end of the batch",
    )
    records = json_records(worker)
    start = next(i for i, r in enumerate(records) if result.id in r["message"])
    end = max(i for i, r in enumerate(records) if result.id in r["message"])
    during = [
        record
        for record in records[start:end]
        if record["logger"].startswith(("registries.", "gimlet."))
    ]

    assert during, worker.log()[-3000:]
    for record in during:
        assert record.get("task_id") == result.id, record
        assert record["task_name"] == "registries.check_batch", record


def test_batch_pool_thread_lines(worker):
    """A request made in a batch's pool thread logs the batch's task id."""
    with FakeServer() as registry_server:
        registry_server.routes["/v2/"] = Reply(
            200, {"Docker-Distribution-API-Version": "registry/2.0"}, b"{}"
        )
        registry = RegistryFactory(custom=True, url=registry_server.url)

        result = check_batch.delay(
            "sweep-2", 0, [registry.pk], timezone.now().isoformat()
        )
        wait_until(
            lambda: Check.objects.filter(registry=registry).exists(),
            timeout=30,
            message="the check",
        )
    requests = [
        record
        for record in json_records(worker)
        if record["logger"] == "registries.http" and record["message"].startswith("GET")
    ]

    assert requests, worker.log()[-3000:]
    assert requests[0]["task_id"] == result.id
    assert requests[0]["registry_id"] == registry.pk
    assert requests[0]["tenant_id"] == registry.environment.tenant_id
