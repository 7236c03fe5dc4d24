"""Role checks for the REST API.

Members of a tenant read its objects and may run the actions a viewset
lists in `member_actions`. Writes, and the reads a viewset lists in
`admin_actions`, need the tenant's admin role. Superusers may do all.
Objects of other tenants never reach these checks: the viewsets' querysets
leave them out, so they are 404.
"""

from rest_framework import permissions

from gimlet.api.scoping import is_tenant_admin, tenant_id_of, tenant_roles
from gimlet.models import Role


def needs_admin(view, request):
    action = getattr(view, "action", None)
    if action in getattr(view, "admin_actions", ()):
        return True
    if action in getattr(view, "member_actions", ()):
        return False
    return request.method not in permissions.SAFE_METHODS


class TenantRolePermission(permissions.BasePermission):
    message = "This action needs the admin role in the object's tenant."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_superuser or not needs_admin(view, request):
            return True
        # A user who administers no tenant at all can write nowhere. Which
        # tenant a new object belongs to is known only after validation;
        # the viewset checks that one in perform_create().
        return any(role == Role.ADMIN for role in tenant_roles(request).values())

    def has_object_permission(self, request, view, obj):
        if not needs_admin(view, request):
            return True
        return is_tenant_admin(request, tenant_id_of(obj, view.tenant_path))


class IsSuperuser(permissions.BasePermission):
    message = "Only superusers may do this."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_superuser)
