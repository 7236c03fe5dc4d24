"""Task definitions and the beat schedules the migration creates."""

import inspect
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from gimlet.celery import app
from registries import tasks

OUR_TASKS = [
    "registries.check_registry",
    "registries.sweep",
    "registries.check_batch",
    "registries.send_expiry_alerts",
    "registries.send_alerts",
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
    }


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
