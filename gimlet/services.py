"""Writes on tenants and memberships."""

from django.core.exceptions import ValidationError
from django.db import transaction

from gimlet.audit import audit_event_record
from gimlet.models import AuditAction, Membership, Role, Tenant
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


def admins_left_without_successor(memberships):
    """Return the admins among `memberships` whose tenants keep no other admin.

    These are the admin memberships whose removal, together with the rest of
    `memberships`, would leave their tenant without an admin.
    """
    leaving = [m for m in memberships if m.role == Role.ADMIN]
    if not leaving:
        return []
    tenants_with_other_admins = set(
        Membership._base_manager.filter(
            tenant_id__in={m.tenant_id for m in leaving}, role=Role.ADMIN
        )
        .exclude(pk__in={m.pk for m in leaving})
        .values_list("tenant_id", flat=True)
    )
    return [m for m in leaving if m.tenant_id not in tenants_with_other_admins]


def last_admin_error(membership, field=None):
    """Return the ValidationError for demoting or removing a last admin, or None."""
    if not admins_left_without_successor([membership]):
        return None
    message = (
        f"{membership.user.get_username()} is the last admin of this tenant. "
        "Make another member an admin first."
    )
    return ValidationError({field: message} if field else message)


def _keep_an_admin(membership, field=None):
    """Raise ValidationError if `membership` is its tenant's last admin.

    Call it before `membership` stops being an admin. The tenant's row is
    locked first, so two admins who demote or remove each other at the
    same moment cannot both pass the check and leave the tenant without
    one: the second waits for the first and then finds itself the last.
    """
    if membership.role != Role.ADMIN:
        return
    Tenant._base_manager.select_for_update().filter(pk=membership.tenant_id).first()
    error = last_admin_error(membership, field)
    if error is not None:
        raise error


@transaction.atomic
def membership_update(*, membership, actor, role):
    if role != Role.ADMIN:
        _keep_an_admin(membership, field="role")
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
    _keep_an_admin(membership)
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
