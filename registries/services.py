"""Writes on registry credentials, each with its audit event.

A change of token, certificate, URL or login resets the stored result and
schedules a check once the transaction has committed.
"""

import logging

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from gimlet.audit import audit_event_record
from gimlet.models import AuditAction
from gimlet.saving import save_validated
from registries.models import ExpirySource, Registry, Status, Trigger

logger = logging.getLogger(__name__)

# Fields a caller may set. `None` for a secret means "keep the stored one";
# an empty certificate removes it.
EDITABLE_FIELDS = ("name", "url", "login", "token", "certificate", "expires_at")
SECRET_FIELDS = ("token", "certificate")
# Changing one of these makes the last check result meaningless.
CHECKED_FIELDS = ("url", "login", "token", "certificate")


def _describe(field, value):
    if field in SECRET_FIELDS:
        return "(set)" if value else "(empty)"
    return None if value is None else str(value)


@sensitive_variables("fields", "value", "before")
def _apply(registry, fields):
    """Set `fields` on the registry; return {field: [before, after]}."""
    changes = {}
    for field, value in fields.items():
        if field not in EDITABLE_FIELDS:
            raise TypeError(f"{field} is not an editable registry field")
        if field in SECRET_FIELDS and value is None:
            continue
        if field == "certificate" and not value.strip():
            value = None
        before = getattr(registry, field)
        if before == value:
            continue
        setattr(registry, field, value)
        if field == "expires_at":
            registry.expires_at_source = ExpirySource.USER if value else ""
        changes[field] = [_describe(field, before), _describe(field, value)]
    return changes


def _reset_result(registry):
    registry.status = Status.UNCHECKED
    registry.status_message = ""
    registry.scopes = []
    registry.checked_at = None
    registry.last_valid_at = None
    registry.retry_after = None
    if registry.expires_at_source == ExpirySource.REGISTRY:
        registry.expires_at = None
        registry.expires_at_source = ""


def registry_schedule_check(*, registry_id, trigger, actor=None):
    """Enqueue a check after commit; a broker outage only logs a warning.

    The periodic sweep checks every credential, so a check that could not be
    enqueued now still happens then. The task gets the actor's id, for the
    audit event of a status change.
    """
    from registries.tasks import check_registry

    args = (registry_id, trigger) if actor is None else (registry_id, trigger, actor.pk)

    def enqueue():
        try:
            check_registry.delay(*args)
        except Exception:  # kombu raises many types for an unreachable broker.
            logger.warning(
                "Could not enqueue the check of registry %s; the next sweep "
                "will check it.",
                registry_id,
                exc_info=True,
            )

    transaction.on_commit(enqueue)


@sensitive_variables("fields")
@transaction.atomic
def registry_create(*, environment, actor, kind, **fields):
    registry = Registry(environment=environment, kind=kind)
    changes = _apply(registry, fields)
    registry.full_clean()
    save_validated(registry)
    audit_event_record(
        tenant=environment.tenant,
        actor=actor,
        action=AuditAction.CREATE,
        target=registry,
        changes=changes,
    )
    registry_schedule_check(registry_id=registry.pk, trigger=Trigger.SAVE)
    return registry


@sensitive_variables("fields")
@transaction.atomic
def registry_update(*, registry, actor, **fields):
    changes = _apply(registry, fields)
    if not changes:
        return registry
    registry.full_clean()
    recheck = any(field in changes for field in CHECKED_FIELDS)
    if recheck:
        _reset_result(registry)
    save_validated(registry)
    audit_event_record(
        tenant=registry.environment.tenant,
        actor=actor,
        action=AuditAction.UPDATE,
        target=registry,
        changes=changes,
    )
    if recheck:
        registry_schedule_check(registry_id=registry.pk, trigger=Trigger.SAVE)
    return registry


@transaction.atomic
def registry_delete(*, registry, actor):
    audit_event_record(
        tenant=registry.environment.tenant,
        actor=actor,
        action=AuditAction.DELETE,
        target=registry,
    )
    registry.delete()
