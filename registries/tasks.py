"""Celery tasks. They take ids only, never secrets, and call services.

Every task acknowledges late and is requeued when its worker dies, so a
task may run twice: each one is idempotent. Retries back off exponentially
with jitter, and no countdown exceeds the broker's visibility timeout.
"""

import logging

from celery import shared_task
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import DatabaseError
from django.utils import timezone
from django_scopes import scopes_disabled

from registries import sweep
from registries.alerts import (
    ALERTS_SCHEDULED_KEY,
    expiry_alerts_run,
    send_pending_alerts,
)
from registries.checking import registry_check
from registries.models import Registry
from registries.retention import checks_prune

logger = logging.getLogger(__name__)

# Errors worth a retry: the database or the network went away for a moment.
TRANSIENT_ERRORS = (DatabaseError, ConnectionError, TimeoutError, OSError)
RETRY_POLICY = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 2,
    # Ten minutes at most, and always below the broker's visibility timeout.
    "retry_backoff_max": min(600, sweep.max_countdown()),
    "retry_jitter": True,
    "max_retries": 6,
}


@shared_task(
    name="registries.check_registry",
    bind=True,
    soft_time_limit=60,
    time_limit=90,
    **RETRY_POLICY,
)
def check_registry(self, registry_id, trigger, actor_id=None):
    """Check one registry credential and store the result.

    While the registry's host is paused by a rate limit, or another check
    of it runs, the check waits instead of calling the host. `actor_id` is
    the user who asked for the check, if one did.
    """
    with scopes_disabled():
        registry = Registry.objects.filter(pk=registry_id).only("kind", "url").first()
        if registry is None:
            return
        retry_at = sweep.busy_until(registry)
        if retry_at is not None:
            raise self.retry(countdown=sweep.countdown_until(retry_at), max_retries=20)
        actor = None
        if actor_id is not None:
            actor = get_user_model()._base_manager.filter(pk=actor_id).first()
        registry_check(registry_id=registry_id, trigger=trigger, actor=actor)


@shared_task(
    name="registries.sweep",
    bind=True,
    soft_time_limit=300,
    time_limit=360,
    **RETRY_POLICY,
)
def run_sweep(self):
    """Fan the check of every credential out into batches."""
    with scopes_disabled():
        started = sweep.sweep_start(sweep_id=self.request.id)
    if started is None:
        return
    sweep_id, started_at, batches = started
    for number, registry_ids in enumerate(batches):
        check_batch.delay(sweep_id, number, registry_ids, started_at.isoformat())


@shared_task(
    name="registries.check_batch",
    bind=True,
    soft_time_limit=1500,
    time_limit=1800,
    **RETRY_POLICY,
)
def check_batch(self, sweep_id, batch_number, registry_ids, started_at):
    """Check one batch of a sweep; requeue checks of paused hosts."""
    with scopes_disabled():
        deferred = sweep.check_batch(registry_ids, started_at)
    for registry_id, retry_at in deferred:
        check_registry.apply_async(
            (registry_id, "schedule"), countdown=sweep.countdown_until(retry_at)
        )
    sweep.sweep_batch_done(sweep_id, batch_number)


ALERT_LOCK_KEY = "gimlet:alerts:running"


def _alert_run(task, work):
    """Run `work` under the alert lock; retry later when sends failed.

    Failed digests keep their rows pending, so a retry sends them once.
    """
    if not cache.add(ALERT_LOCK_KEY, task.request.id or "local", timeout=300):
        raise task.retry(countdown=30, max_retries=10)
    try:
        with scopes_disabled():
            failed = work()
    finally:
        cache.delete(ALERT_LOCK_KEY)
    if failed:
        countdown = min(60 * 2**task.request.retries, sweep.max_countdown())
        raise task.retry(countdown=countdown, max_retries=8)


@shared_task(
    name="registries.send_expiry_alerts",
    bind=True,
    soft_time_limit=300,
    time_limit=360,
    **RETRY_POLICY,
)
def send_expiry_alerts(self):
    """Record the expiry alerts due now and send every pending digest."""

    def work():
        created, sent, failed = expiry_alerts_run()
        logger.info(
            "Alert run: %d new alerts, %d digests sent, %d failed.",
            created,
            sent,
            failed,
        )
        return failed

    _alert_run(self, work)


@shared_task(
    name="registries.send_alerts",
    bind=True,
    soft_time_limit=120,
    time_limit=180,
    **RETRY_POLICY,
)
def send_alerts(self):
    """Send the pending alerts now, such as a credential that stopped working."""
    cache.delete(ALERTS_SCHEDULED_KEY)
    _alert_run(self, lambda: send_pending_alerts(timezone.now())[1])


@shared_task(
    name="registries.prune_checks",
    bind=True,
    soft_time_limit=600,
    time_limit=660,
    **RETRY_POLICY,
)
def prune_checks(self):
    """Delete check history older than GIMLET_CHECK_RETENTION_DAYS."""
    checks_prune()
