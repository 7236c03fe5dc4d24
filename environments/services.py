"""Writes on environments and image settings, each with its audit event."""

from django.db import transaction

from environments.models import Environment, ImageSettings
from gimlet.audit import audit_event_record
from gimlet.models import AuditAction
from gimlet.saving import save_validated

IMAGE_SETTINGS_FIELDS = ("app", "strategy", "registry", "repository", "tag")


@transaction.atomic
def environment_create(*, tenant, actor, name):
    environment = Environment(tenant=tenant, name=name)
    environment.full_clean()
    save_validated(environment)
    audit_event_record(
        tenant=tenant, actor=actor, action=AuditAction.CREATE, target=environment
    )
    return environment


@transaction.atomic
def environment_update(*, environment, actor, name):
    previous = environment.name
    environment.name = name
    environment.full_clean()
    save_validated(environment)
    audit_event_record(
        tenant=environment.tenant,
        actor=actor,
        action=AuditAction.UPDATE,
        target=environment,
        changes={"name": [previous, name]},
    )
    return environment


@transaction.atomic
def environment_delete(*, environment, actor):
    audit_event_record(
        tenant=environment.tenant,
        actor=actor,
        action=AuditAction.DELETE,
        target=environment,
    )
    environment.delete()


@transaction.atomic
def image_settings_create(*, environment, actor, **fields):
    image_settings = ImageSettings(environment=environment, **fields)
    image_settings.full_clean()
    save_validated(image_settings)
    audit_event_record(
        tenant=environment.tenant,
        actor=actor,
        action=AuditAction.CREATE,
        target=image_settings,
    )
    return image_settings


@transaction.atomic
def image_settings_update(*, image_settings, actor, **fields):
    changed = {}
    for field, value in fields.items():
        if field not in IMAGE_SETTINGS_FIELDS:
            raise TypeError(f"{field} is not an image settings field")
        before = getattr(image_settings, field)
        if before != value:
            changed[field] = [str(before), str(value)]
            setattr(image_settings, field, value)
    image_settings.full_clean()
    save_validated(image_settings)
    audit_event_record(
        tenant=image_settings.environment.tenant,
        actor=actor,
        action=AuditAction.UPDATE,
        target=image_settings,
        changes=changed,
    )
    return image_settings


@transaction.atomic
def image_settings_delete(*, image_settings, actor):
    audit_event_record(
        tenant=image_settings.environment.tenant,
        actor=actor,
        action=AuditAction.DELETE,
        target=image_settings,
    )
    image_settings.delete()
