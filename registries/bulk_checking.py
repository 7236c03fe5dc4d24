"""Checking many credentials at once, as the sweep does.

The network part of each check runs in a thread pool; loading the
credentials and storing the results happen in the calling thread. A batch
therefore uses one database connection however many checks are in flight,
and a database error affects only the results being stored.
"""

import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from django.core.cache import cache
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from gimlet.log_context import carry_log_context, log_context
from registries.alerts import alerts_send_soon, status_change_alert_record
from registries.checking import (
    LOCK_SECONDS,
    RESULT_FIELDS,
    _apply_result,
    _credential_version,
    lock_key,
)
from registries.models import Check, Registry
from registries.pauses import host_pause, host_paused_until, upstream_host
from registries.validators import validator_for

logger = logging.getLogger(__name__)

# Results stored per transaction: large enough to save most of the per-row
# cost, small enough that a slow upstream's results are not held back long.
STORE_GROUP = 25


def _lock_all(registry_ids):
    """Take the check lock of each registry that is free; return their ids."""
    owner = secrets.token_hex(8)
    locked = [
        registry_id
        for registry_id in registry_ids
        if cache.add(lock_key(registry_id), owner, timeout=LOCK_SECONDS)
    ]
    return owner, locked


def _unlock_all(owner, registry_ids):
    """Release the locks this batch still owns, in two cache round trips."""
    held = cache.get_many([lock_key(registry_id) for registry_id in registry_ids])
    cache.delete_many([key for key, value in held.items() if value == owner])


PAUSED = object()


def registry_log_context(registry):
    return log_context(
        registry_id=registry.pk, tenant_id=registry.environment.tenant_id
    )


class HostPauses:
    """The pauses of upstream hosts, as one batch reads them.

    Reading the shared cache for every check cost more CPU than the check's
    own bookkeeping (measured: 0.3 s of 1.6 s for a batch of 500), so each
    host's pause is read at most once every REFRESH_SECONDS. A pause this
    batch sets applies at once, and one that another worker sets applies
    here within REFRESH_SECONDS.
    """

    REFRESH_SECONDS = 1.0

    def __init__(self):
        self._lock = threading.Lock()
        self._known = {}

    def paused(self, host):
        now = time.monotonic()
        with self._lock:
            read_at, until = self._known.get(host, (None, None))
        if read_at is None or now - read_at > self.REFRESH_SECONDS:
            until = host_paused_until(host)
            with self._lock:
                self._known[host] = (now, until)
        return until is not None and until > timezone.now()

    def pause(self, host, until):
        host_pause(host, until)
        with self._lock:
            self._known[host] = (time.monotonic(), until)


def _validate_unless_paused(registry, pauses):
    """Run one check in a pool thread, unless its host is paused now.

    A rate-limited response pauses the host at once, before the result is
    stored, so the checks still queued in the pool do not call it.
    """
    try:
        host = upstream_host(registry)
        if pauses.paused(host):
            return PAUSED
        with registry_log_context(registry):
            result = validator_for(registry.kind).validate(registry)
        if result.retry_after and result.retry_after > timezone.now():
            pauses.pause(host, result.retry_after)
        return result
    finally:
        # The database cache opens a connection in this thread.
        connections.close_all()


def registries_check(*, registry_ids, trigger, concurrency):
    """Check the registries, up to `concurrency` at once.

    Return (stored, paused): the ids whose result was stored, and the ids
    skipped because their host was paused meanwhile. Registries whose lock
    another check holds are skipped, as registry_check() does. Results are
    stored in groups of STORE_GROUP, each group in one transaction. A group
    that cannot be stored is logged and left out of `stored`, and the sweep
    batch checks those credentials again in tasks of their own.
    """
    owner, locked = _lock_all(registry_ids)
    stored, paused, pending = [], [], []
    try:
        registries = list(
            Registry.objects.select_related("environment").filter(pk__in=locked)
        )
        workers = max(1, min(concurrency, len(registries)))
        pauses = HostPauses()
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check")
        # Pool threads start with an empty context: carry the log fields
        # over, so that the checks' log lines name their task.
        validate = carry_log_context(_validate_unless_paused)
        with pool:
            futures = {
                pool.submit(validate, registry, pauses): registry
                for registry in registries
            }
            for future in as_completed(futures):
                registry = futures[future]
                result = _result_of(registry, future)
                if result is PAUSED:
                    paused.append(registry.pk)
                elif result is not None:
                    pending.append((registry, result))
                if len(pending) >= STORE_GROUP:
                    stored += _store_group(pending, trigger)
                    pending = []
        stored += _store_group(pending, trigger)
    finally:
        _unlock_all(owner, locked)
    return stored, paused


def _result_of(registry, future):
    try:
        return future.result()
    except Exception:
        logger.exception(
            "The check of registry %s (tenant %s) failed.",
            registry.pk,
            registry.environment.tenant_id,
        )
        return None


def _store_group(pending, trigger):
    """Store a group of results in one transaction; return the stored ids."""
    if not pending:
        return []
    try:
        return _record_many(pending, trigger)
    except DatabaseError:
        logger.exception(
            "Storing the checks of registries %s failed; they are checked "
            "again in tasks of their own.",
            [registry.pk for registry, _ in pending],
        )
        return []


@transaction.atomic
def _record_many(pending, trigger):
    """Store results as _record() does: lock the rows once, insert the
    Check rows in one query.
    """
    ids = [registry.pk for registry, _ in pending]
    current = Registry.objects.select_for_update().in_bulk(ids)
    now = timezone.now()
    changed, checks, transitions = [], [], []
    for checked, result in pending:
        registry = current.get(checked.pk)
        if registry is None or _credential_version(registry) != _credential_version(
            checked
        ):
            continue
        previous = (registry.status, registry.last_valid_at)
        _apply_result(registry, result)
        registry.updated_at = now
        changed.append(registry)
        checks.append(
            Check(
                registry=registry,
                status=registry.status,
                message=registry.status_message,
                http_status=result.http_status,
                duration_ms=result.duration_ms,
                trigger=trigger,
                created_at=registry.checked_at,
            )
        )
        transitions.append((registry, previous))

    # One plain UPDATE per row: bulk_update() builds a CASE expression per
    # field and row, which costs more CPU than the round trips it saves.
    for registry in changed:
        Registry.objects.filter(pk=registry.pk).update(
            **{field: getattr(registry, field) for field in RESULT_FIELDS}
        )
    Check.objects.bulk_create(checks)

    alerted = False
    for registry, (status, valid_at) in transitions:
        if registry.retry_after and registry.retry_after > now:
            host_pause(upstream_host(registry), registry.retry_after)
        alert = status_change_alert_record(
            registry=registry, previous_status=status, previous_valid_at=valid_at
        )
        alerted = alerted or alert is not None
    if alerted:
        transaction.on_commit(alerts_send_soon)

    logger.info("Stored %d checks (trigger %s).", len(changed), trigger)
    return [registry.pk for registry in changed]
