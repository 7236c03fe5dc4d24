"""Environments and the image settings of the apps deployed into them."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django_scopes import ScopedManager

from gimlet.models import Tenant

validate_dns_label = RegexValidator(
    r"\A[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z",
    "Use a DNS label: lowercase letters, digits and inner hyphens, starting "
    "and ending with a letter or digit (for example staging-eu).",
)


class Environment(models.Model):
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="environments"
    )
    name = models.CharField(max_length=63, validators=[validate_dns_label])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], name="environment_unique_name_per_tenant"
            ),
        ]
        ordering = ["tenant_id", "name"]

    def __str__(self):
        return f"{self.tenant.slug}/{self.name}"

    def clean(self):
        taken = (
            Environment._base_manager.filter(tenant_id=self.tenant_id, name=self.name)
            .exclude(pk=self.pk)
            .exists()
        )
        if self.tenant_id and taken:
            raise ValidationError(
                {"name": f"This tenant already has an environment named {self.name}."}
            )

    def validate_constraints(self, exclude=None):
        # Name uniqueness is checked in clean(), as an error on the field.
        super().validate_constraints(exclude={*(exclude or ()), "name"})


class Strategy(models.TextChoices):
    STATIC = "static", "Static site"
    DYNAMIC = "dynamic", "Dynamic"
    BUILDPACKS = "buildpacks", "Buildpacks"
    DOCKERFILE = "dockerfile", "Dockerfile"


class ImageSettings(models.Model):
    """The build strategy and push target of one app's image in one environment."""

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="image_settings"
    )
    app = models.CharField(max_length=63, validators=[validate_dns_label])
    strategy = models.CharField(
        max_length=16, choices=Strategy.choices, default=Strategy.DOCKERFILE
    )
    registry = models.ForeignKey(
        # RESTRICT: a registry in use cannot be deleted on its own, but
        # deleting its environment removes both.
        "registries.Registry",
        on_delete=models.RESTRICT,
        related_name="image_settings",
    )
    repository = models.CharField(
        max_length=255,
        blank=True,
        help_text="Leave empty for the registry's default repository for the app.",
    )
    tag = models.CharField(
        max_length=128,
        default="latest",
        validators=[
            RegexValidator(
                r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z",
                "Use an image tag: letters, digits, underscores, periods and "
                "hyphens, not starting with a period or hyphen.",
            )
        ],
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(tenant="environment__tenant")

    class Meta:
        verbose_name = "image settings"
        verbose_name_plural = "image settings"
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "app"], name="image_settings_unique_app"
            ),
        ]
        ordering = ["environment_id", "app"]

    def __str__(self):
        return f"{self.app} in {self.environment}"

    def save(self, *args, **kwargs):
        # Enforced here too, so no entry point can pair an app with another
        # environment's registry.
        if self.registry.environment_id != self.environment_id:
            raise ValidationError(
                {"registry": "The registry belongs to another environment."}
            )
        if not self.repository:
            self.repository = self.registry.default_repository(self.app)
        super().save(*args, **kwargs)

    def clean(self):
        if (
            self.registry_id
            and self.environment_id
            and self.registry.environment_id != self.environment_id
        ):
            raise ValidationError(
                {
                    "registry": "Choose a registry of the same environment as "
                    "these image settings."
                }
            )
        if self.registry_id and not self.repository:
            self.repository = self.registry.default_repository(self.app)
