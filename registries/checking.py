"""Checking one stored credential against its registry.

Only one check of a credential runs at a time: a cache lock (cache.add is
atomic in Redis, the database cache and the local-memory cache) makes a
second caller skip. The result is stored on the registry and appended to
its history as a Check row, in one transaction.
"""

import logging
import secrets

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from gimlet.audit import audit_event_record
from gimlet.log_context import log_context
from gimlet.models import AuditAction
from registries.alerts import alerts_send_soon, status_change_alert_record
from registries.models import Check, ExpirySource, Registry, Status, Trigger
from registries.pauses import host_pause, upstream_host
from registries.validators import validator_for

logger = logging.getLogger(__name__)

# Longer than the check task's hard time limit, so a worker killed mid-check
# blocks the next check for at most this long.
LOCK_SECONDS = settings.GIMLET_CHECK_LOCK_SECONDS
# Fields whose change makes a running check's result stale.
CREDENTIAL_FIELDS = ("url", "login", "token_fingerprint", "certificate_fingerprint")
RESULT_FIELDS = [
    "status",
    "status_message",
    "scopes",
    "checked_at",
    "last_valid_at",
    "retry_after",
    "expires_at",
    "expires_at_source",
    "updated_at",
]


def lock_key(registry_id):
    return f"registries:check-lock:{registry_id}"


def registry_check(*, registry_id, trigger, actor=None):
    """Check the registry's credential and store the result.

    Return the new Check, or None when another check of the same credential
    is running or the credential changed while this one ran (the change
    schedules a check of its own).
    """
    key = lock_key(registry_id)
    owner = secrets.token_hex(8)
    with log_context(registry_id=registry_id):
        if not cache.add(key, owner, timeout=LOCK_SECONDS):
            logger.info("Registry %s is already being checked; skipped", registry_id)
            return None
        try:
            registry = Registry.objects.select_related("environment").get(
                pk=registry_id
            )
            with log_context(tenant_id=registry.environment.tenant_id):
                result = validator_for(registry.kind).validate(registry)
                return _record(registry, result, trigger=trigger, actor=actor)
        finally:
            if cache.get(key) == owner:
                cache.delete(key)


def _credential_version(registry):
    return tuple(getattr(registry, field) for field in CREDENTIAL_FIELDS)


@transaction.atomic
def _record(checked, result, *, trigger, actor):
    registry = Registry.objects.select_for_update().get(pk=checked.pk)
    if _credential_version(registry) != _credential_version(checked):
        logger.info(
            "Registry %s (tenant %s) changed during its check; result dropped",
            registry.pk,
            checked.environment.tenant_id,
        )
        return None
    previous = registry.status
    previous_valid_at = registry.last_valid_at
    _apply_result(registry, result)
    registry.save(update_fields=RESULT_FIELDS)
    check = Check.objects.create(
        registry=registry,
        status=registry.status,
        message=registry.status_message,
        http_status=result.http_status,
        duration_ms=result.duration_ms,
        trigger=trigger,
        created_at=registry.checked_at,
    )
    if trigger == Trigger.MANUAL:
        audit_event_record(
            tenant=checked.environment.tenant,
            actor=actor,
            action=AuditAction.CHECK,
            target=registry,
            changes={"status": [previous, registry.status]},
        )
    if registry.retry_after and registry.retry_after > timezone.now():
        host_pause(upstream_host(registry), registry.retry_after)
    alert = status_change_alert_record(
        registry=registry,
        previous_status=previous,
        previous_valid_at=previous_valid_at,
    )
    if alert is not None:
        transaction.on_commit(alerts_send_soon)
    logger.info(
        "Checked registry %s (tenant %s, %s, trigger %s): %s in %d ms",
        registry.pk,
        checked.environment.tenant_id,
        registry.kind,
        trigger,
        registry.status,
        result.duration_ms,
    )
    return check


def _apply_result(registry, result):
    """Store `result` on the registry, keeping what a failure cannot know."""
    now = timezone.now()
    status, message = result.status, result.message
    if result.expiry_read and registry.expires_at_source != ExpirySource.USER:
        registry.expires_at = result.expires_at
        registry.expires_at_source = ExpirySource.REGISTRY

    expired = registry.expires_at is not None and registry.expires_at <= now
    if status == Status.INVALID and result.http_status == 401 and expired:
        status = Status.EXPIRED
        message = (
            f"The token expired on {registry.expires_at:%Y-%m-%d %H:%M} UTC, and "
            "the registry now rejects it. Create a new token and save it here."
        )

    registry.status = status
    registry.status_message = message
    registry.checked_at = now
    if status == Status.UNREACHABLE:
        # The failure is no verdict on the credential, so the last definitive
        # result (last_valid_at, scopes, expiry) stays, and the message says
        # when it was last valid.
        registry.retry_after = result.retry_after
        if registry.last_valid_at:
            registry.status_message += (
                f" Last valid at {registry.last_valid_at:%Y-%m-%d %H:%M} UTC."
            )
        return

    registry.retry_after = None
    if result.scopes is not None:
        registry.scopes = result.scopes
    if status == Status.VALID:
        registry.last_valid_at = now
