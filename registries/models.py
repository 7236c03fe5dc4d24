"""Stored registry credentials, their check history and their alerts."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_scopes import ScopedManager

from environments.models import Environment, validate_dns_label
from registries.certificates import parse_bundle
from registries.fields import EncryptedSecretField
from registries.inputs import KIND_RULES
from registries.secrets import secret_fingerprint, secret_hint

SECRET_FIELDS = ("token", "certificate")


class Kind(models.TextChoices):
    BUILTIN = "builtin", "Built-in"
    GHCR = "ghcr", "GitHub Container Registry"
    DOCKERHUB = "dockerhub", "Docker Hub"
    CUSTOM = "custom", "Custom registry"


class Status(models.TextChoices):
    UNCHECKED = "unchecked", "Unchecked"
    VALID = "valid", "Valid"
    INVALID = "invalid", "Invalid"
    EXPIRED = "expired", "Expired"
    INSUFFICIENT_SCOPE = "insufficient_scope", "Insufficient scope"
    TLS_ERROR = "tls_error", "TLS error"
    CONFIG_ERROR = "config_error", "Configuration error"
    UNREACHABLE = "unreachable", "Unreachable"


class ExpirySource(models.TextChoices):
    NONE = "", "Unknown"
    REGISTRY = "registry", "Read from the registry"
    USER = "user", "Entered by a user"


class RegistryQuerySet(models.QuerySet):
    def without_secrets(self):
        """Leave the encrypted columns unread, so nothing is decrypted."""
        return self.defer(*SECRET_FIELDS)

    def for_tenant(self, tenant):
        return self.filter(environment__tenant=tenant)

    def expiring_within(self, days):
        """Credentials whose token or certificate expires in the next `days`."""
        now = timezone.now()
        horizon = now + timedelta(days=days)
        return self.filter(
            Q(expires_at__gt=now, expires_at__lte=horizon)
            | Q(certificate_expires_at__gt=now, certificate_expires_at__lte=horizon)
        )


RegistryManager = models.Manager.from_queryset(RegistryQuerySet)


class Registry(models.Model):
    """A stored credential for one container registry in one environment."""

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="registries"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(
        max_length=63,
        blank=True,
        validators=[validate_dns_label],
        help_text="Unique within the environment; defaults to the kind.",
    )
    url = models.CharField(max_length=2048, blank=True)
    login = models.CharField(max_length=255, blank=True)
    token = EncryptedSecretField(null=True, blank=True)
    token_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    token_hint = models.CharField(max_length=32, blank=True, editable=False)
    certificate = EncryptedSecretField(
        null=True,
        blank=True,
        help_text="PEM CA certificates that sign the registry's TLS certificate.",
    )
    certificate_subject = models.CharField(max_length=512, blank=True, editable=False)
    certificate_fingerprint = models.CharField(
        max_length=64, blank=True, editable=False
    )
    certificate_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the token expires. Read from GitHub; entered by hand "
        "for Docker Hub and custom registries.",
    )
    expires_at_source = models.CharField(
        max_length=16, choices=ExpirySource.choices, blank=True, editable=False
    )
    status = models.CharField(
        max_length=32, choices=Status.choices, default=Status.UNCHECKED, editable=False
    )
    status_message = models.TextField(blank=True, editable=False)
    scopes = models.JSONField(default=list, blank=True, editable=False)
    checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_valid_at = models.DateTimeField(null=True, blank=True, editable=False)
    retry_after = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(
        tenant="environment__tenant", _manager_class=RegistryManager
    )

    class Meta:
        verbose_name_plural = "registries"
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "name"], name="registry_unique_name_per_env"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=Kind.values), name="registry_kind_known"
            ),
        ]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["expires_at"])]
        ordering = ["environment_id", "name"]

    def __str__(self):
        return f"{self.name or self.kind} ({self.get_kind_display()})"

    def save(self, *args, **kwargs):
        self._check_kind_unchanged()
        if not self.name:
            self.name = self.kind
        self._sync_secret_metadata()
        super().save(*args, **kwargs)
        self._stored_kind = self.kind

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._stored_kind = instance.__dict__.get("kind")
        return instance

    def clean(self):
        if self.kind not in KIND_RULES:
            raise ValidationError({"kind": f"Choose one of: {', '.join(Kind.values)}."})
        self._check_kind_unchanged()
        if not self.name:
            self.name = self.kind
        KIND_RULES[self.kind].clean(self)
        taken = (
            Registry._base_manager.filter(
                environment_id=self.environment_id, name=self.name
            )
            .exclude(pk=self.pk)
            .exists()
        )
        if self.environment_id and taken:
            raise ValidationError(
                {
                    "name": f"This environment already has a registry named "
                    f"{self.name}. Choose another name."
                }
            )

    def validate_constraints(self, exclude=None):
        # Name uniqueness is checked in clean(), as an error on the field.
        super().validate_constraints(exclude={*(exclude or ()), "name"})

    def _check_kind_unchanged(self):
        stored = getattr(self, "_stored_kind", None)
        if stored is not None and stored != self.kind:
            raise ValidationError(
                {
                    "kind": "The kind of a registry never changes. Create a new "
                    "registry of the other kind instead."
                }
            )

    def _sync_secret_metadata(self):
        """Derive fingerprints, hints and certificate data from the secrets.

        Deferred (unloaded) secrets are left alone: they did not change.
        """
        loaded = self.__dict__
        if "token" in loaded:
            if self.token:
                self.token_fingerprint = secret_fingerprint(self.token)
                self.token_hint = secret_hint(self.token)
            else:
                self.token_fingerprint = ""
                self.token_hint = ""
        if "certificate" in loaded:
            if self.certificate:
                info = parse_bundle(self.certificate)
                self.certificate_subject = info.subject
                self.certificate_fingerprint = info.fingerprint
                self.certificate_expires_at = info.expires_at
            else:
                self.certificate_subject = ""
                self.certificate_fingerprint = ""
                self.certificate_expires_at = None

    @property
    def tenant(self):
        return self.environment.tenant

    @property
    def expiring(self):
        """Whether a known expiry date lies within the warning window."""
        now = timezone.now()
        horizon = now + timedelta(days=settings.GIMLET_EXPIRING_WINDOW_DAYS)
        return any(
            date is not None and now < date <= horizon
            for date in (self.expires_at, self.certificate_expires_at)
        )

    @property
    def host(self):
        """The registry's address without scheme, as image names use it."""
        return self.url.split("://", 1)[-1].rstrip("/")

    def default_repository(self, app):
        if self.kind == Kind.BUILTIN:
            return f"{self.host}/{app}"
        if self.kind == Kind.DOCKERHUB:
            return f"{self.login}/{app}"
        return f"{self.host}/{self.login.lower()}/{app}"


class Trigger(models.TextChoices):
    SAVE = "save", "Saved"
    MANUAL = "manual", "Manual"
    SCHEDULE = "schedule", "Scheduled"


class Check(models.Model):
    """One validation attempt of a registry credential."""

    registry = models.ForeignKey(
        Registry, on_delete=models.CASCADE, related_name="checks"
    )
    status = models.CharField(max_length=32, choices=Status.choices)
    message = models.TextField(blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = ScopedManager(tenant="registry__environment__tenant")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["registry", "-created_at"])]

    def __str__(self):
        return f"{self.get_status_display()} at {self.created_at:%Y-%m-%d %H:%M}"


class AlertKind(models.TextChoices):
    TOKEN_EXPIRY = "token_expiry", "Token expiry"
    CERTIFICATE_EXPIRY = "certificate_expiry", "Certificate expiry"
    STATUS_CHANGE = "status_change", "Status change"


class Alert(models.Model):
    """An alert about one credential, written before it is sent.

    Unique per (registry, kind, threshold, fingerprint): the fingerprint is
    that of the token or certificate the alert is about, so replacing the
    secret re-arms its alerts, and a sent alert is never sent again.
    """

    registry = models.ForeignKey(
        Registry, on_delete=models.CASCADE, related_name="alerts"
    )
    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    threshold_days = models.IntegerField(
        help_text="Days before expiry; 0 once expired. 0 for status changes."
    )
    fingerprint = models.CharField(max_length=64)
    detail = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    objects = ScopedManager(tenant="registry__environment__tenant")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["registry", "kind", "threshold_days", "fingerprint"],
                name="alert_unique_per_secret_threshold",
            )
        ]
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.threshold_days} days)"
