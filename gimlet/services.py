"""Writes on tenants and memberships."""

from django.db import transaction

from gimlet.audit import audit_event_record
from gimlet.models import AuditAction, Membership, Tenant
from gimlet.saving import save_validated


@transaction.atomic
def tenant_create(*, actor, name, slug, alert_emails=()):
    tenant = Tenant(name=name, slug=slug, alert_emails=list(alert_emails))
    tenant.full_clean()
    save_validated(tenant)
    audit_event_record(
        tenant=tenant, actor=actor, action=AuditAction.CREATE, target=tenant
    )
    return tenant


@transaction.atomic
def membership_add(*, tenant, actor, user, role):
    membership = Membership(tenant=tenant, user=user, role=role)
    membership.full_clean()
    save_validated(membership)
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.CREATE,
        target=membership,
        changes={"user": user.get_username(), "role": role},
    )
    return membership


@transaction.atomic
def membership_update(*, membership, actor, role):
    previous = membership.role
    membership.role = role
    membership.full_clean()
    membership.save(update_fields=["role"])
    audit_event_record(
        tenant=membership.tenant,
        actor=actor,
        action=AuditAction.UPDATE,
        target=membership,
        changes={"role": [previous, role]},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership, actor):
    audit_event_record(
        tenant=membership.tenant,
        actor=actor,
        action=AuditAction.DELETE,
        target=membership,
        changes={"user": membership.user.get_username()},
    )
    membership.delete()


TENANT_EDITABLE_FIELDS = ("name", "alert_emails")


@transaction.atomic
def tenant_update(*, tenant, actor, **fields):
    changes = {}
    for field, value in fields.items():
        if field not in TENANT_EDITABLE_FIELDS:
            raise TypeError(f"{field} is not an editable tenant field")
        before = getattr(tenant, field)
        if before != value:
            changes[field] = [before, value]
            setattr(tenant, field, value)
    if not changes:
        return tenant
    tenant.full_clean()
    tenant.save()
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.UPDATE,
        target=tenant,
        changes=changes,
    )
    return tenant
