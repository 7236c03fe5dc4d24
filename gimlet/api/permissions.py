"""Role checks for the REST API.

Members of a tenant read its objects and may run the actions a viewset
lists in `member_actions`. Writes, and the reads a viewset lists in
`admin_actions`, need the tenant's admin role. Superusers may do all.
Objects of other tenants never reach these checks: the viewsets' querysets
leave them out, so they are 404.
"""

from rest_framework import permissions

from gimlet.api.scoping import is_tenant_admin, tenant_id_of


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
        # Roles are checked per object, after the queryset has turned other
        # tenants' objects into 404s. The viewset checks a new object's
        # tenant once the request names it.
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj):
        if not needs_admin(view, request):
            return True
        return is_tenant_admin(request, tenant_id_of(obj, view.tenant_path))


class IsSuperuser(permissions.BasePermission):
    message = "Only superusers may do this."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_superuser)
