"""Old check history is deleted, and each credential keeps its latest check."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from registries import tasks
from registries.models import Check, Status, Trigger
from registries.retention import checks_prune
from tests.factories import RegistryFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def check(registry, days_ago):
    return Check.objects.create(
        registry=registry,
        status=Status.VALID,
        trigger=Trigger.SCHEDULE,
        created_at=NOW - timedelta(days=days_ago),
    )


@pytest.fixture
def registry(db):
    return RegistryFactory(ghcr=True)


def remaining(registry):
    return sorted((NOW - row.created_at).days for row in registry.checks.all())


def test_checks_past_retention_are_deleted(registry, settings):
    settings.GIMLET_CHECK_RETENTION_DAYS = 30
    for days_ago in (1, 29, 31, 200):
        check(registry, days_ago)

    deleted = checks_prune(now=NOW)

    assert deleted == 2
    assert remaining(registry) == [1, 29]


def test_latest_check_stays_however_old(registry, settings):
    settings.GIMLET_CHECK_RETENTION_DAYS = 30
    for days_ago in (100, 200, 300):
        check(registry, days_ago)

    checks_prune(now=NOW)

    assert remaining(registry) == [100]


def test_each_credential_keeps_its_own_latest(settings):
    settings.GIMLET_CHECK_RETENTION_DAYS = 30
    first, second = RegistryFactory(ghcr=True), RegistryFactory(dockerhub=True)
    for days_ago in (40, 50):
        check(first, days_ago)
    check(second, 60)

    checks_prune(now=NOW)

    assert (remaining(first), remaining(second)) == ([40], [60])


def test_batches_delete_the_whole_backlog(registry, settings):
    settings.GIMLET_CHECK_RETENTION_DAYS = 30
    for days_ago in range(31, 38):
        check(registry, days_ago)

    deleted = checks_prune(now=NOW, batch_size=2)

    assert deleted == 6
    assert remaining(registry) == [31]


def test_run_stops_after_its_batches(registry, settings):
    settings.GIMLET_CHECK_RETENTION_DAYS = 30
    for days_ago in range(31, 38):
        check(registry, days_ago)

    deleted = checks_prune(now=NOW, batch_size=2, max_batches=2)

    assert deleted == 4
    assert len(remaining(registry)) == 3


def test_task_prunes(registry, settings):
    settings.GIMLET_CHECK_RETENTION_DAYS = 30
    check(registry, 1)
    check(registry, 90)

    tasks.prune_checks.apply()

    assert remaining(registry) == [1]


def test_migration_schedules_daily_prune():
    entry = PeriodicTask.objects.get(task="registries.prune_checks")

    assert entry.enabled
    assert (entry.interval.every, entry.interval.period) == (1, "days")
    assert 0 < entry.expire_seconds < 24 * 3600
