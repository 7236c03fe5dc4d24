"""The periodic sweep that checks every credential, and its safeguards.

The sweep splits all registry ids into batches, one task each. A batch runs
up to GIMLET_VALIDATION_CONCURRENCY checks at once in threads that share the
pooled HTTP connections of registries.http. It stores the results in the
task's own thread, over one database connection. Locks live in the shared cache
(Redis in production), so they hold across workers and machines:

- one sweep at a time, and one sweep per beat interval;
- a host that returned a rate-limit response is paused, for every worker,
  until the time it named.

A batch that runs again after a crash skips the credentials that were
checked after its sweep started, so re-running it is harmless.
"""

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from registries.bulk_checking import registries_check
from registries.checking import lock_key
from registries.models import Registry
from registries.pauses import host_paused_until, upstream_host

logger = logging.getLogger(__name__)

# Credentials per batch task. Each batch ends by draining its thread pool,
# so larger batches waste less of it; smaller ones spread a sweep over more
# workers.
BATCH_SIZE = 500
SWEEP_LOCK_KEY = "gimlet:sweep:running"
# Wait before checking again a credential whose check in a batch failed.
RECHECK_DELAY = timedelta(seconds=15)


def max_countdown():
    """Return the maximum safe countdown, in seconds.

    It stays below the broker's visibility timeout, after which Redis would
    hand an unacknowledged task to a second worker while the first waits.
    """
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    visibility = options.get("visibility_timeout", 3600)
    return max(1, int(visibility * 0.8))


def sweep_start(*, sweep_id=None, scheduled=True):
    """Take the sweep lock and return (sweep_id, started_at, batches).

    Return None when another sweep holds the lock or, for a scheduled
    sweep, when one already ran in this interval: two beat processes by
    mistake still give one sweep per interval.
    """
    sweep_id = sweep_id or uuid.uuid4().hex
    lock_seconds = settings.GIMLET_REVALIDATE_INTERVAL_MINUTES * 60
    if scheduled:
        slot = int(timezone.now().timestamp() // lock_seconds)
        slot_key = f"gimlet:sweep:slot:{slot}"
        if not cache.add(slot_key, sweep_id, timeout=lock_seconds):
            if cache.get(slot_key) != sweep_id:
                logger.info("This interval was swept; sweep %s skipped.", sweep_id)
                return None
    if not cache.add(SWEEP_LOCK_KEY, sweep_id, timeout=lock_seconds):
        if cache.get(SWEEP_LOCK_KEY) != sweep_id:
            logger.info("A sweep is running already; sweep %s skipped.", sweep_id)
            return None
    started_at = timezone.now()
    ids = list(Registry.objects.order_by("pk").values_list("pk", flat=True))
    batches = [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
    if not batches:
        cache.delete(SWEEP_LOCK_KEY)
        return sweep_id, started_at, []
    cache.set(f"gimlet:sweep:{sweep_id}:pending", len(batches), timeout=lock_seconds)
    cache.set(f"gimlet:sweep:{sweep_id}:started", started_at, timeout=lock_seconds)
    logger.info(
        "Sweep %s started: %d credentials in %d batches.",
        sweep_id,
        len(ids),
        len(batches),
    )
    return sweep_id, started_at, batches


def sweep_batch_done(sweep_id, batch_number):
    """Count a finished batch once; release the lock after the last one."""
    if not cache.add(f"gimlet:sweep:{sweep_id}:done:{batch_number}", True, 86400):
        return
    try:
        remaining = cache.decr(f"gimlet:sweep:{sweep_id}:pending")
    except ValueError:
        remaining = 0
    if remaining > 0:
        return
    started_at = cache.get(f"gimlet:sweep:{sweep_id}:started")
    if cache.get(SWEEP_LOCK_KEY) == sweep_id:
        cache.delete(SWEEP_LOCK_KEY)
    if started_at is not None:
        seconds = (timezone.now() - started_at).total_seconds()
        cache.set("gimlet:sweep:last_duration", seconds, timeout=None)
        cache.set("gimlet:sweep:last_finished", timezone.now(), timeout=None)
        logger.info("Sweep %s finished in %.1f s.", sweep_id, seconds)


def busy_until(registry):
    """Return when a check of `registry` may run, or None to run it now.

    A check waits while its host is paused by a rate limit, or while another
    check has the credential's lock. That check's worker may have died, so
    the wait ends when the lock expires, after GIMLET_CHECK_LOCK_SECONDS.
    """
    paused_until = host_paused_until(upstream_host(registry))
    if paused_until is not None:
        return paused_until
    if cache.get(lock_key(registry.pk)) is not None:
        return timezone.now() + timedelta(seconds=settings.GIMLET_CHECK_LOCK_SECONDS)
    return None


def check_batch(registry_ids, started_at):
    """Check the registries not yet checked since `started_at`.

    Return the (registry_id, retry_at) pairs to check later: those skipped
    because their host is paused or another check holds their lock, and
    those whose check failed or whose result could not be stored.
    """
    if isinstance(started_at, str):
        started_at = datetime.fromisoformat(started_at)
    candidates = (
        Registry.objects.filter(pk__in=registry_ids)
        .only("kind", "url", "checked_at", "environment_id")
        .order_by("pk")
    )
    due, deferred = [], []
    for registry in candidates:
        if registry.checked_at and registry.checked_at >= started_at:
            continue
        retry_at = busy_until(registry)
        if retry_at is None:
            due.append(registry.pk)
        else:
            deferred.append((registry.pk, retry_at))
    stored, paused = registries_check(
        registry_ids=due,
        trigger="schedule",
        concurrency=settings.GIMLET_VALIDATION_CONCURRENCY,
    )
    unfinished = set(due) - set(stored) - set(paused)
    for registry in candidates:
        if registry.pk in paused:
            retry_at = host_paused_until(upstream_host(registry)) or timezone.now()
            deferred.append((registry.pk, retry_at))
        elif registry.pk in unfinished:
            # The check failed or its result was not stored, as when the
            # database drops its connections. A task of its own checks it
            # again, and that task retries database errors.
            deferred.append((registry.pk, timezone.now() + RECHECK_DELAY))
    return deferred


def countdown_until(moment):
    seconds = (moment - timezone.now()).total_seconds() + 1
    return int(min(max(seconds, 1), max_countdown()))
