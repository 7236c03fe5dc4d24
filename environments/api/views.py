from django.utils.cache import add_never_cache_headers
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from environments import services
from environments.api.filters import EnvironmentFilter, ImageSettingsFilter
from environments.api.serializers import (
    DockerConfigSerializer,
    EnvironmentCreateSerializer,
    EnvironmentSerializer,
    ImageSettingsCreateSerializer,
    ImageSettingsSerializer,
    KubernetesSecretSerializer,
)
from environments.models import Environment, ImageSettings
from environments.pull_secrets import (
    FORMAT_DOCKERCONFIG,
    FORMAT_KUBERNETES,
    pull_secret_export,
)
from gimlet.api.throttling import ScopedRateThrottle
from gimlet.api.viewsets import TenantScopedViewSet


class KubernetesSecretRenderer(JSONRenderer):
    """JSON chosen by `?format=secret`: the pull secret as a Secret manifest."""

    format = "secret"


class EnvironmentViewSet(TenantScopedViewSet):
    """Deployment environments of your tenants."""

    model = Environment
    serializer_class = EnvironmentSerializer
    create_serializer_class = EnvironmentCreateSerializer
    filterset_class = EnvironmentFilter
    tenant_path = "tenant"
    admin_actions = frozenset({"pull_secret"})

    def prepare_queryset(self, queryset):
        return queryset.select_related("tenant")

    def perform_destroy(self, instance):
        services.environment_delete(environment=instance, actor=self.request.user)

    @extend_schema(
        summary="Export the environment's image pull secret",
        description=(
            "The credentials of the environment's registries in Docker's "
            "`.dockerconfigjson` form, or with `format=secret` a Kubernetes "
            "Secret manifest of type `kubernetes.io/dockerconfigjson`. "
            "Tenant admins only; every export is audited."
        ),
        parameters=[
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                enum=["json", "secret"],
                description="`secret` for a Kubernetes Secret manifest.",
            )
        ],
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="PullSecret",
                    serializers=[DockerConfigSerializer, KubernetesSecretSerializer],
                    resource_type_field_name=None,
                ),
                description="Sent with Cache-Control: no-store.",
            )
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="pull-secret",
        renderer_classes=[JSONRenderer, KubernetesSecretRenderer],
        throttle_classes=[ScopedRateThrottle],
        throttle_scope="pull-secret",
        filter_backends=[],
        pagination_class=None,
    )
    @sensitive_variables("document", "response")
    def pull_secret(self, request, pk=None):
        environment = self.get_object()
        if request.accepted_renderer.format == KubernetesSecretRenderer.format:
            output_format = FORMAT_KUBERNETES
        else:
            output_format = FORMAT_DOCKERCONFIG
        document = pull_secret_export(
            environment=environment, actor=request.user, output_format=output_format
        )
        response = Response(document)
        add_never_cache_headers(response)
        return response


class ImageSettingsViewSet(TenantScopedViewSet):
    """The build and push settings of each app, per environment."""

    model = ImageSettings
    serializer_class = ImageSettingsSerializer
    create_serializer_class = ImageSettingsCreateSerializer
    filterset_class = ImageSettingsFilter
    tenant_path = "environment__tenant"
    create_tenant_field = ("environment", "tenant")

    def prepare_queryset(self, queryset):
        if self.action in {"list", "retrieve"}:
            return queryset
        # Writes and role checks read the environment's tenant.
        return queryset.select_related("environment__tenant")

    def perform_destroy(self, instance):
        services.image_settings_delete(image_settings=instance, actor=self.request.user)
