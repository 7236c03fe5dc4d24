"""Tenancy core: tenants, their members and the audit trail."""

from django.conf import settings
from django.core.validators import validate_slug
from django.db import models
from django_scopes import ScopedManager


class Tenant(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True, validators=[validate_slug])
    alert_emails = models.JSONField(
        default=list,
        blank=True,
        help_text="Extra addresses that receive this tenant's alerts.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "tenant"], name="membership_unique_user_tenant"
            )
        ]
        ordering = ["tenant_id", "user_id"]

    def __str__(self):
        return f"{self.user} in {self.tenant} ({self.role})"


class AuditAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Changed"
    DELETE = "delete", "Deleted"
    CHECK = "check", "Checked"
    EXPORT = "export", "Exported"


class AuditEvent(models.Model):
    """A record of who did what to which object. It contains no secret."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    target_type = models.CharField(max_length=64)
    target_id = models.BigIntegerField(null=True)
    target_repr = models.CharField(max_length=255)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_action_display()} {self.target_type} {self.target_repr}"
