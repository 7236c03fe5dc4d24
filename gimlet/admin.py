from django.contrib import admin

from gimlet.admin_scoping import TenantScopedAdmin, TenantScopedInline
from gimlet.models import AuditEvent, Membership, Tenant


class MembershipInline(TenantScopedInline):
    model = Membership
    fields = ("user", "role")


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_path = "pk"
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    list_display = ("user", "tenant", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username", "tenant__slug")
    list_select_related = ("user", "tenant")


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedAdmin):
    list_display = (
        "created_at",
        "tenant",
        "actor",
        "action",
        "target_type",
        "target_repr",
    )
    list_filter = ("action", "target_type")
    search_fields = ("target_repr", "actor__username")
    list_select_related = ("tenant", "actor")
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
