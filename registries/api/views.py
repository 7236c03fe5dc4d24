import logging

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.response import Response

from gimlet.api.exceptions import Conflict, ServiceUnavailable
from gimlet.api.throttling import CACHE_ERRORS, ScopedRateThrottle
from gimlet.api.viewsets import TenantScopedViewSet
from registries import services
from registries.api.filters import RegistryFilter
from registries.api.serializers import (
    CREATE_EXAMPLES,
    CheckSerializer,
    RegistryCreateSerializer,
    RegistrySerializer,
)
from registries.checking import registry_check
from registries.models import SECRET_FIELDS, Registry, Trigger

logger = logging.getLogger(__name__)


@extend_schema_view(create=extend_schema(examples=CREATE_EXAMPLES))
@method_decorator(sensitive_post_parameters(*SECRET_FIELDS), name="dispatch")
class RegistryViewSet(TenantScopedViewSet):
    """Stored registry credentials. Tokens and certificates are write-only.

    Lists and reads never decrypt a secret: the encrypted columns stay
    unread unless a write needs them.
    """

    model = Registry
    serializer_class = RegistrySerializer
    create_serializer_class = RegistryCreateSerializer
    filterset_class = RegistryFilter
    tenant_path = "environment__tenant"
    create_tenant_field = ("environment", "tenant")
    member_actions = frozenset({"validate"})

    def prepare_queryset(self, queryset):
        queryset = queryset.without_secrets()
        if self.action == "list":
            return queryset
        # Role checks, services and audit events read the tenant.
        return queryset.select_related("environment__tenant")

    def perform_destroy(self, instance):
        services.registry_delete(registry=instance, actor=self.request.user)

    @extend_schema(
        summary="Check the credential now",
        description="Runs the check synchronously, records it in the "
        "history and returns the registry with its new status.",
        request=None,
        responses={200: RegistrySerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        throttle_classes=[ScopedRateThrottle],
        throttle_scope="registry-check",
        filter_backends=[],
    )
    def validate(self, request, pk=None):
        registry = self.get_object()
        try:
            check = registry_check(
                registry_id=registry.pk, trigger=Trigger.MANUAL, actor=request.user
            )
        except CACHE_ERRORS as error:
            # The check's lock lives in the shared cache (Redis).
            logger.warning("Could not check registry %s: %r", registry.pk, error)
            raise ServiceUnavailable(
                "The check could not run because the shared cache is "
                "unavailable. Try again in a minute."
            ) from None
        if check is None:
            raise Conflict(
                "Another check of this registry is running, or the credential "
                "changed during the check. Try again in a minute."
            )
        registry = self.get_queryset().get(pk=registry.pk)
        return Response(self.get_serializer(registry).data)

    @extend_schema(
        summary="List the credential's checks, newest first",
        responses={200: CheckSerializer(many=True)},
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=CheckSerializer,
        filter_backends=[],
    )
    def checks(self, request, pk=None):
        registry = self.get_object()
        page = self.paginate_queryset(registry.checks.order_by("-created_at", "-id"))
        serializer = CheckSerializer(page, many=True)
        return self.get_paginated_response(serializer.data)
