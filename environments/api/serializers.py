from rest_framework import serializers

from environments import services
from environments.models import Environment, ImageSettings
from gimlet.api.scoping import (
    TenantScopedPrimaryKeyRelatedField,
    TenantScopedSlugRelatedField,
)
from gimlet.api.serializers import acting_user
from gimlet.models import Tenant
from registries.models import Registry


def environment_field(**kwargs):
    return TenantScopedPrimaryKeyRelatedField(
        model=Environment,
        tenant_path="tenant",
        prepare=lambda queryset: queryset.select_related("tenant"),
        error_messages={"does_not_exist": "Environment {pk_value} not found."},
        **kwargs,
    )


def registry_field(**kwargs):
    return TenantScopedPrimaryKeyRelatedField(
        model=Registry,
        tenant_path="environment__tenant",
        prepare=lambda queryset: queryset.without_secrets(),
        error_messages={"does_not_exist": "Registry {pk_value} not found."},
        **kwargs,
    )


class EnvironmentSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, help_text="The tenant's slug."
    )

    class Meta:
        model = Environment
        fields = ["id", "tenant", "name", "created_at", "updated_at"]
        # Names are unique per tenant; Environment.clean() checks that.
        validators = []

    def update(self, instance, validated_data):
        return services.environment_update(
            environment=instance,
            actor=acting_user(self),
            name=validated_data.get("name", instance.name),
        )


class EnvironmentCreateSerializer(EnvironmentSerializer):
    tenant = TenantScopedSlugRelatedField(
        model=Tenant,
        tenant_path="pk",
        slug_field="slug",
        help_text="The slug of one of your tenants; fixed once created.",
        error_messages={"does_not_exist": "Tenant {value} not found."},
    )

    def create(self, validated_data):
        return services.environment_create(
            tenant=validated_data["tenant"],
            actor=acting_user(self),
            name=validated_data["name"],
        )


class ImageSettingsSerializer(serializers.ModelSerializer):
    environment = serializers.PrimaryKeyRelatedField(read_only=True)
    registry = registry_field(
        help_text="A registry of the same environment, where images are pushed."
    )

    class Meta:
        model = ImageSettings
        fields = [
            "id",
            "environment",
            "app",
            "strategy",
            "registry",
            "repository",
            "tag",
            "created_at",
            "updated_at",
        ]
        # Apps are unique per environment; full_clean() checks that.
        validators = []

    def update(self, instance, validated_data):
        return services.image_settings_update(
            image_settings=instance, actor=acting_user(self), **validated_data
        )


class ImageSettingsCreateSerializer(ImageSettingsSerializer):
    environment = environment_field(help_text="Fixed once created.")

    def create(self, validated_data):
        environment = validated_data.pop("environment")
        return services.image_settings_create(
            environment=environment, actor=acting_user(self), **validated_data
        )


class DockerAuthSerializer(serializers.Serializer):
    """One registry's entry in a Docker config (for the schema only)."""

    username = serializers.CharField()
    password = serializers.CharField()
    auth = serializers.CharField(help_text="Base64 of username:password.")


class DockerConfigSerializer(serializers.Serializer):
    auths = serializers.DictField(
        child=DockerAuthSerializer(),
        help_text="Credentials by registry host; Docker Hub's key is "
        "https://index.docker.io/v1/.",
    )


class SecretMetadataSerializer(serializers.Serializer):
    name = serializers.CharField()
    labels = serializers.DictField(child=serializers.CharField())


class KubernetesSecretSerializer(serializers.Serializer):
    """A Secret manifest of type kubernetes.io/dockerconfigjson."""

    apiVersion = serializers.CharField()  # noqa: N815 (a Kubernetes field)
    kind = serializers.CharField()
    metadata = SecretMetadataSerializer()
    type = serializers.CharField()
    data = serializers.DictField(
        child=serializers.CharField(),
        help_text="The Docker config, base64-encoded, under .dockerconfigjson.",
    )
