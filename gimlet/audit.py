"""Audit events: who changed what. Call inside the write's transaction."""

from gimlet.models import AuditEvent


def audit_event_record(*, tenant, actor, action, target, changes=None):
    """Record `action` on `target` by `actor` (None for the system)."""
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=actor,
        action=action,
        target_type=target._meta.label_lower,
        target_id=target.pk,
        target_repr=str(target)[:255],
        changes=changes or {},
    )
