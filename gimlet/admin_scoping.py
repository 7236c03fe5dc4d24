"""Tenant scoping for the admin site.

Superusers see everything. Staff users see and change only the objects of
tenants in which they have the admin role: changelists, change forms,
foreign-key choices and submitted ids all go through the same filter.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model

from environments.models import Environment
from gimlet.models import Tenant
from gimlet.tenancy import admin_tenant_ids_for

# Where each related model keeps its tenant, for scoping foreign-key choices.
TENANT_PATHS = {
    Tenant: "pk",
    Environment: "tenant",
    "registries.registry": "environment__tenant",
}


def tenant_filter(path, tenant_ids):
    return {f"{path}__in": tenant_ids}


def admin_tenant_ids(request):
    """Return the ids of the tenants the request's user administers, cached."""
    if not hasattr(request, "_admin_tenant_ids"):
        request._admin_tenant_ids = admin_tenant_ids_for(request.user)
    return request._admin_tenant_ids


def _tenant_path_for(model):
    for key, path in TENANT_PATHS.items():
        if key is model or key == model._meta.label_lower:
            return path
    return None


def scope_choices(request, queryset):
    """Limit a choice queryset to the tenants the user administers.

    Users are limited to members of those tenants; models without a known
    tenant path offer no choices at all, so a new relation fails closed.
    """
    if request.user.is_superuser:
        return queryset
    tenant_ids = admin_tenant_ids(request)
    if queryset.model is get_user_model():
        return queryset.filter(memberships__tenant_id__in=tenant_ids).distinct()
    path = _tenant_path_for(queryset.model)
    if path is None:
        return queryset.none()
    return queryset.filter(**tenant_filter(path, tenant_ids))


def staff_may_administer(request):
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    return user.is_superuser or bool(admin_tenant_ids(request))


class TenantScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows and choices are limited to the user's tenants."""

    tenant_path = "tenant"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(
            **tenant_filter(self.tenant_path, admin_tenant_ids(request))
        )

    def object_tenant_id(self, obj):
        target = obj
        for step in self.tenant_path.split("__"):
            if step == "pk":
                return target.pk
            target = getattr(target, step)
        return target.pk

    def _allowed(self, request, obj=None):
        if not staff_may_administer(request):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return self.object_tenant_id(obj) in admin_tenant_ids(request)

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_add_permission(self, request):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None:
            field.queryset = scope_choices(request, field.queryset)
        return field


class TenantScopedInline(admin.TabularInline):
    """An inline that follows its parent admin's tenant checks."""

    extra = 0

    def _allowed(self, request, obj=None):
        # The parent admin has checked the parent object's tenant already.
        return staff_may_administer(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None:
            field.queryset = scope_choices(request, field.queryset)
        return field
