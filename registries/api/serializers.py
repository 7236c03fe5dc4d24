from datetime import UTC, datetime

from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers

from environments.api.serializers import environment_field
from gimlet.api.serializers import acting_user
from registries import services
from registries.models import SECRET_FIELDS, Check, Kind, Registry

# Attribute read for a field whose name differs from the model attribute.
READ_ATTRIBUTES = {"environment": "environment_id"}
READABLE_NAMES = {}


def iso_datetime(value):
    """Format a datetime as DRF's DateTimeField does with USE_TZ and UTC."""
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def is_isoformat(value):
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


class SecretField(serializers.CharField):
    """A write-only secret: never in a response, never echoed into a form."""

    def __init__(self, **kwargs):
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("style", {"input_type": "password"})
        super().__init__(**kwargs)


class RegistrySerializer(serializers.ModelSerializer):
    environment = serializers.PrimaryKeyRelatedField(read_only=True)
    kind = serializers.ChoiceField(choices=Kind.choices, read_only=True)
    token = SecretField(
        help_text="Write-only. Omit it, or send null, to keep the stored token."
    )
    certificate = SecretField(
        help_text="Write-only PEM CA certificates, for custom registries. Omit "
        "it, or send null, to keep the stored one; an empty string removes it."
    )
    expiring = serializers.BooleanField(
        read_only=True,
        help_text="Whether the token or certificate expires within the warning window.",
    )
    scopes = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="The token's scopes, as the last check read them.",
    )

    class Meta:
        model = Registry
        fields = [
            "id",
            "environment",
            "kind",
            "name",
            "url",
            "login",
            "token",
            "certificate",
            "token_hint",
            "status",
            "status_message",
            "checked_at",
            "last_valid_at",
            "expires_at",
            "expiring",
            "scopes",
            "certificate_subject",
            "certificate_fingerprint",
            "certificate_expires_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "expires_at": {
                "help_text": "When the token expires. Writable for dockerhub "
                "and custom registries; read from GitHub for ghcr."
            },
        }
        # Names are unique per environment; Registry.clean() checks that.
        validators = []

    def to_representation(self, instance):
        """Return the registry as DRF's fields would, several times faster.

        Lists serialise every row of a page, and DRF's generic per-field path
        dominated their cost. tests/api/test_registry_representation.py
        compares the two for every kind and every empty or set field.
        """
        data = {}
        for name in self._readable_names():
            value = getattr(instance, READ_ATTRIBUTES.get(name, name))
            if isinstance(value, datetime):
                value = iso_datetime(value)
            data[name] = value
        return data

    def _readable_names(self):
        # The readable fields depend on the class only, and building them
        # (DRF's `fields`) costs more than serialising a page: keep one list
        # per class.
        cls = type(self)
        names = READABLE_NAMES.get(cls)
        if names is None:
            names = [field.field_name for field in self._readable_fields]
            READABLE_NAMES[cls] = names
        return names

    @sensitive_variables("initial")
    def get_initial(self):
        # The browsable API fills its form from get_initial() after a failed
        # submission, which would echo a submitted token into the HTML.
        initial = super().get_initial()
        for field in SECRET_FIELDS:
            if field in initial:
                initial[field] = ""
        # DRF 3.18's HTMLFormRenderer parses a datetime value with
        # datetime.fromisoformat() and raises on anything else, so an
        # invalid expiry would turn the error page into a server error.
        expires_at = initial.get("expires_at")
        if isinstance(expires_at, str) and not is_isoformat(expires_at):
            initial["expires_at"] = ""
        return initial

    @sensitive_variables("validated_data")
    def update(self, instance, validated_data):
        return services.registry_update(
            registry=instance, actor=acting_user(self), **validated_data
        )


class RegistryCreateSerializer(RegistrySerializer):
    environment = environment_field(help_text="Fixed once created.")
    kind = serializers.ChoiceField(
        choices=Kind.choices, help_text="Fixed once created."
    )

    @sensitive_variables("validated_data")
    def create(self, validated_data):
        return services.registry_create(
            environment=validated_data.pop("environment"),
            actor=acting_user(self),
            kind=validated_data.pop("kind"),
            **validated_data,
        )


class CheckSerializer(serializers.ModelSerializer):
    class Meta:
        model = Check
        fields = [
            "id",
            "status",
            "message",
            "http_status",
            "duration_ms",
            "trigger",
            "created_at",
        ]
        read_only_fields = fields


CREATE_EXAMPLES = [
    OpenApiExample(
        "Built-in registry",
        value={"environment": 1, "kind": "builtin", "url": "127.0.0.1:32447"},
        request_only=True,
    ),
    OpenApiExample(
        "GitHub Container Registry",
        value={
            "environment": 1,
            "kind": "ghcr",
            "login": "octocat",
            "token": "ghp_" + "x" * 36,
        },
        description="A classic personal access token with the write:packages "
        "scope (and repo for private repositories).",
        request_only=True,
    ),
    OpenApiExample(
        "Docker Hub",
        value={
            "environment": 1,
            "kind": "dockerhub",
            "login": "mydockerid",
            "token": "dckr_pat_" + "x" * 27,
            "expires_at": "2027-06-30T00:00:00Z",
        },
        description="A personal access token; Docker Hub cannot report its "
        "expiry, so enter it if you know it.",
        request_only=True,
    ),
    OpenApiExample(
        "Custom registry with its own CA",
        value={
            "environment": 1,
            "kind": "custom",
            "name": "harbor",
            "url": "https://registry.example.com",
            "login": "robot$ci",
            "token": "the-robot-account-secret",
            "certificate": "-----BEGIN CERTIFICATE-----\n...\n"
            "-----END CERTIFICATE-----\n",
        },
        request_only=True,
    ),
]
