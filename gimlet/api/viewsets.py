"""The base of every tenant-owned API viewset."""

from rest_framework import viewsets

from gimlet.api.permissions import TenantRolePermission
from gimlet.api.scoping import TenantScopeMixin, filter_by_tenant, is_tenant_admin


class TenantScopedViewSet(TenantScopeMixin, viewsets.ModelViewSet):
    """A model viewset limited to the tenants of the authenticated user.

    Subclasses set `model`, `serializer_class`, `tenant_path` (the lookup
    from the model to its Tenant), optionally a `create_serializer_class`
    for fields that are fixed after creation, and implement
    `tenant_id_for_create()` and `perform_destroy()`. They adjust the
    queryset in `prepare_queryset()`.

    There is no class-level `queryset`: the model's scoped manager builds
    the queryset at each request, inside the request's scope.
    """

    model = None
    permission_classes = [TenantRolePermission]
    tenant_path = "tenant"
    create_serializer_class = None
    # Actions that members may run although they are not safe methods, and
    # reads that only admins may run.
    member_actions = frozenset()
    admin_actions = frozenset()
    # Set per action by @action(throttle_scope=...) for ScopedRateThrottle.
    throttle_scope = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model._base_manager.none()
        queryset = self.prepare_queryset(self.model.objects.all())
        return filter_by_tenant(queryset, self.request, self.tenant_path)

    def prepare_queryset(self, queryset):
        return queryset

    def get_serializer_class(self):
        # The browsable API builds its create form from the list view, so
        # go by the method rather than the action.
        creating = not getattr(self, "detail", False) and self.request.method == "POST"
        if creating and self.create_serializer_class is not None:
            return self.create_serializer_class
        return super().get_serializer_class()

    def tenant_id_for_create(self, validated_data):
        """Return the id of the tenant that the new object will belong to."""
        raise NotImplementedError

    def perform_create(self, serializer):
        tenant_id = self.tenant_id_for_create(serializer.validated_data)
        if not is_tenant_admin(self.request, tenant_id):
            self.permission_denied(self.request, message=TenantRolePermission.message)
        serializer.save()
