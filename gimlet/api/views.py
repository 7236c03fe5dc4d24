from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, parsers, permissions, viewsets
from rest_framework.authtoken.views import ObtainAuthToken

from gimlet import services
from gimlet.api.parsers import JSONParser, MultiPartParser
from gimlet.api.permissions import IsSuperuser, TenantRolePermission
from gimlet.api.scoping import TenantScopeMixin, filter_by_tenant, is_tenant_admin
from gimlet.api.serializers import (
    MembershipCreateSerializer,
    MembershipSerializer,
    TenantCreateSerializer,
    TenantSerializer,
)
from gimlet.api.throttling import ScopedRateThrottle
from gimlet.models import Membership, Role, Tenant

# The pattern of string path parameters: one URL path segment.
PATH_SEGMENT = "^[^/]+$"


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class AuthTokenView(ObtainAuthToken):
    """Exchange a username and password for the user's API token."""

    # The password is the credential here; no session or token is needed.
    authentication_classes = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth-token"
    parser_classes = [JSONParser, parsers.FormParser, MultiPartParser]


class TenantViewSet(
    TenantScopeMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's tenants with the caller's role in each.

    Superusers see and create every tenant. Tenant admins may rename their
    tenant and set its alert addresses.
    """

    queryset = Tenant.objects.all()
    serializer_class = TenantSerializer
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"
    tenant_path = "pk"
    filterset_fields = ["slug"]

    def get_permissions(self):
        if self.action == "create":
            return [IsSuperuser()]
        return [TenantRolePermission()]

    def get_serializer_class(self):
        if self.action == "create":
            return TenantCreateSerializer
        return TenantSerializer

    def get_queryset(self):
        queryset = filter_by_tenant(super().get_queryset(), self.request, "pk")
        user = self.request.user
        if not user.is_authenticated:
            return queryset.none()
        role = Membership.objects.filter(tenant=OuterRef("pk"), user=user).values(
            "role"
        )[:1]
        if user.is_superuser:
            return queryset.annotate(role=Coalesce(Subquery(role), Value(Role.ADMIN)))
        return queryset.annotate(role=Subquery(role))


class IsAdminOfUrlTenant(permissions.BasePermission):
    message = "Only the tenant's admins may manage its members."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        return is_tenant_admin(request, view.tenant.pk)


@extend_schema_view(
    list=extend_schema(summary="List a tenant's members"),
    create=extend_schema(summary="Add a member to a tenant"),
)
@extend_schema(
    parameters=[
        OpenApiParameter(
            "tenant_slug",
            OpenApiTypes.STR,
            OpenApiParameter.PATH,
            pattern=PATH_SEGMENT,
            description="The tenant's slug.",
        ),
        OpenApiParameter(
            "username",
            OpenApiTypes.STR,
            OpenApiParameter.PATH,
            pattern=PATH_SEGMENT,
            description="The member's user name.",
        ),
    ]
)
class MembershipViewSet(TenantScopeMixin, viewsets.ModelViewSet):
    """The members of one tenant and their roles; for the tenant's admins."""

    serializer_class = MembershipSerializer
    permission_classes = [IsAdminOfUrlTenant]
    lookup_field = "user__username"
    lookup_url_kwarg = "username"
    # User names may contain periods and "@".
    lookup_value_regex = "[^/]+"

    @cached_property
    def tenant(self):
        """The tenant named in the URL; 404 unless the caller may see it."""
        tenants = filter_by_tenant(Tenant.objects.all(), self.request, "pk")
        tenant = tenants.filter(slug=self.kwargs.get("tenant_slug")).first()
        if tenant is None:
            raise exceptions.NotFound()
        return tenant

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return Membership.objects.filter(tenant=self.tenant).select_related("user")

    def get_serializer_class(self):
        if self.request.method == "POST":
            return MembershipCreateSerializer
        return MembershipSerializer

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False) and "tenant_slug" in (
            self.kwargs or {}
        ):
            context["tenant"] = self.tenant
        return context

    def perform_destroy(self, instance):
        services.membership_remove(membership=instance, actor=self.request.user)
