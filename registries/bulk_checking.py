"""Checking many credentials at once, as the sweep does.

The network part of each check runs in a thread pool; loading the
credentials and storing the results happen in the calling thread. A batch
so holds one database connection however many checks are in flight, and a
database error affects the one result being stored, not the pool.
"""

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor, as_completed

from django.core.cache import cache
from django.db import DatabaseError, connections
from django.utils import timezone

from registries.checking import LOCK_SECONDS, _record, lock_key
from registries.models import Registry
from registries.pauses import host_pause, host_paused_until, upstream_host
from registries.validators import validator_for

logger = logging.getLogger(__name__)


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
    for registry_id in registry_ids:
        key = lock_key(registry_id)
        if cache.get(key) == owner:
            cache.delete(key)


PAUSED = object()


def _validate_unless_paused(registry):
    """Run one check in a pool thread, unless its host is paused now.

    A rate-limited answer pauses the host at once, before the result is
    stored, so the checks still queued in the pool do not call it.
    """
    try:
        host = upstream_host(registry)
        if host_paused_until(host) is not None:
            return PAUSED
        result = validator_for(registry.kind).validate(registry)
        if result.retry_after and result.retry_after > timezone.now():
            host_pause(host, result.retry_after)
        return result
    finally:
        # The database cache opens a connection in this thread.
        connections.close_all()


def registries_check(*, registry_ids, trigger, concurrency):
    """Check the registries, up to `concurrency` at once.

    Return (stored, paused): the ids whose result was stored, and the ids
    skipped because their host was paused meanwhile. Registries whose lock
    another check holds are skipped, as registry_check() does. A result that
    cannot be stored is logged and dropped; the next sweep checks it again.
    """
    owner, locked = _lock_all(registry_ids)
    stored, paused = [], []
    try:
        registries = list(
            Registry.objects.select_related("environment").filter(pk__in=locked)
        )
        workers = max(1, min(concurrency, len(registries)))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check")
        with pool:
            futures = {
                pool.submit(_validate_unless_paused, registry): registry
                for registry in registries
            }
            for future in as_completed(futures):
                registry = futures[future]
                outcome = _store(registry, future, trigger)
                if outcome is PAUSED:
                    paused.append(registry.pk)
                elif outcome:
                    stored.append(registry.pk)
    finally:
        _unlock_all(owner, locked)
    return stored, paused


def _store(registry, future, trigger):
    try:
        result = future.result()
    except Exception:
        logger.exception(
            "The check of registry %s (tenant %s) failed.",
            registry.pk,
            registry.environment.tenant_id,
        )
        return False
    if result is PAUSED:
        return PAUSED
    try:
        return _record(registry, result, trigger=trigger, actor=None) is not None
    except DatabaseError:
        logger.exception(
            "Storing the check of registry %s (tenant %s) failed; the next "
            "sweep checks it again.",
            registry.pk,
            registry.environment.tenant_id,
        )
        return False
