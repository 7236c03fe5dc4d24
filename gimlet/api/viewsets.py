"""The base of every tenant-owned API viewset."""

from collections.abc import Mapping

from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response

from gimlet.api.permissions import TenantRolePermission
from gimlet.api.scoping import (
    TenantScopeMixin,
    filter_by_tenant,
    is_tenant_admin,
    tenant_id_of,
    visible_tenant_ids,
)


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
    # Any segment reaches the view, so a malformed id is DRF's JSON 404 and
    # not Django's HTML one.
    lookup_value_regex = "[^/]+"
    tenant_path = "tenant"
    create_serializer_class = None
    # The create serializer's field that names the new object's tenant, and
    # the path from that field's value to the tenant.
    create_tenant_field = ("tenant", "pk")
    # Actions that members may run although they are not safe methods, and
    # reads that only admins may run.
    member_actions = frozenset()
    admin_actions = frozenset()
    # Set per action by @action(throttle_scope=...) for ScopedRateThrottle.
    throttle_scope = None

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        try:
            page = self.paginate_queryset(queryset)
        except exceptions.NotFound:
            self.check_filter_references()
            raise
        if page is None:
            page = list(queryset)
        if not page:
            self.check_filter_references()
        serializer = self.get_serializer(page, many=True)
        if self.paginator is None:
            return Response(serializer.data)
        return self.get_paginated_response(serializer.data)

    def check_filter_references(self):
        """Tell an empty list from a filter on an id the user may not see."""
        filterset = getattr(self, "filterset", None)
        if filterset is not None and hasattr(filterset, "check_references"):
            filterset.check_references()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model._base_manager.none()
        manager = self.model.objects
        if visible_tenant_ids(self.request) is not None:
            # The scope's filter and filter_by_tenant's name the same tenants
            # along the same path. Keep the explicit one, which the query
            # would otherwise carry twice.
            manager = manager.with_scopes_disabled()
        queryset = self.prepare_queryset(manager.all())
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

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        self.check_create_permission(serializer)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        headers = self.get_success_headers(serializer.data)
        return Response(
            serializer.data, status=status.HTTP_201_CREATED, headers=headers
        )

    def check_create_permission(self, serializer):
        """Reject a member's create in their tenant, whatever else is wrong.

        Only the field that names the tenant is validated here. A missing,
        malformed or foreign value passes on to is_valid(), which reports
        it as "not found" like any other invalid input.
        """
        name, tenant_path = self.create_tenant_field
        if not isinstance(serializer.initial_data, Mapping):
            return
        field = serializer.fields[name]
        try:
            value = field.run_validation(field.get_value(serializer.initial_data))
        except exceptions.ValidationError:
            return
        if value is None:
            return
        if not is_tenant_admin(self.request, tenant_id_of(value, tenant_path)):
            self.permission_denied(self.request, message=TenantRolePermission.message)

    def perform_create(self, serializer):
        name, tenant_path = self.create_tenant_field
        tenant_id = tenant_id_of(serializer.validated_data[name], tenant_path)
        if not is_tenant_admin(self.request, tenant_id):
            self.permission_denied(self.request, message=TenantRolePermission.message)
        serializer.save()
