"""Task definitions and the beat schedules the migration creates."""

import inspect
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from gimlet.celery import app
from gimlet.models import AuditAction, AuditEvent
from registries import tasks
from registries.models import Trigger
from tests.factories import RegistryFactory, UserFactory

OUR_TASKS = [
    "registries.check_registry",
    "registries.sweep",
    "registries.check_batch",
    "registries.send_expiry_alerts",
    "registries.send_alerts",
    "registries.prune_checks",
]


@pytest.mark.parametrize("name", OUR_TASKS)
def test_task_is_safe_to_redeliver(name):
    task = app.tasks[name]

    assert task.acks_late is True
    assert task.reject_on_worker_lost is True
    assert task.time_limit and task.soft_time_limit < task.time_limit
    assert task.retry_backoff and task.retry_jitter


@pytest.mark.parametrize("name", OUR_TASKS)
def test_task_backoff_stays_below_visibility_timeout(name):
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]

    assert app.tasks[name].retry_backoff_max < visibility


@pytest.mark.parametrize("name", OUR_TASKS)
def test_task_arguments_are_ids(name):
    parameters = inspect.signature(app.tasks[name].run).parameters

    assert set(parameters) <= {
        "registry_id",
        "trigger",
        "sweep_id",
        "batch_number",
        "registry_ids",
        "started_at",
        "actor_id",
    }


@pytest.mark.django_db
def test_queued_check_is_audited_with_its_actor():
    """A loopback URL fails the outbound policy at once, with no network."""
    registry = RegistryFactory(custom=True, url="https://127.0.0.1:9")
    user = UserFactory(username="asked-for-it")

    tasks.check_registry.apply(args=(registry.pk, Trigger.MANUAL, user.pk))

    event = AuditEvent.objects.get(action=AuditAction.CHECK, target_id=registry.pk)
    assert event.actor == user


@pytest.mark.django_db
def test_check_of_deleted_actor_is_audited_without_one():
    registry = RegistryFactory(custom=True, url="https://127.0.0.1:9")

    tasks.check_registry.apply(args=(registry.pk, Trigger.MANUAL, 987654))

    event = AuditEvent.objects.get(action=AuditAction.CHECK, target_id=registry.pk)
    assert event.actor is None


def test_countdowns_are_capped(settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 100}
    far = timezone.now() + timedelta(days=2)

    assert tasks.sweep.countdown_until(far) == 80


@pytest.mark.django_db
@pytest.mark.parametrize(
    "task, minutes",
    [
        ("registries.sweep", settings.GIMLET_REVALIDATE_INTERVAL_MINUTES),
        ("registries.send_expiry_alerts", 60),
    ],
)
def test_migration_creates_schedule(task, minutes):
    entry = PeriodicTask.objects.get(task=task)

    assert entry.enabled
    assert entry.interval.every == minutes
    assert entry.interval.period == "minutes"
    assert 0 < entry.expire_seconds < minutes * 60
