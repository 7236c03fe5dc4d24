from django.contrib import admin

from environments.models import Environment, ImageSettings
from environments.services import (
    IMAGE_SETTINGS_FIELDS,
    environment_create,
    environment_delete,
    environment_update,
    image_settings_create,
    image_settings_delete,
    image_settings_update,
)
from gimlet.admin_scoping import TenantScopedAdmin, TenantScopedInline, scope_choices
from registries.models import Registry


class RegistryInline(TenantScopedInline):
    model = Registry
    fields = ("name", "kind", "url", "login", "token_hint", "status", "expires_at")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).without_secrets()


@admin.register(Environment)
class EnvironmentAdmin(TenantScopedAdmin):
    list_display = ("name", "tenant", "created_at")
    list_filter = ("tenant",)
    search_fields = ("name", "tenant__slug")
    list_select_related = ("tenant",)
    inlines = [RegistryInline]

    def get_readonly_fields(self, request, obj=None):
        return ("tenant",) if obj is not None else ()

    def get_list_filter(self, request):
        # The tenant filter would list every tenant's name; only superusers
        # may see them all.
        return self.list_filter if request.user.is_superuser else ()

    def save_model(self, request, obj, form, change):
        if change:
            stored = Environment.objects.get(pk=obj.pk)
            environment_update(environment=stored, actor=request.user, name=obj.name)
        else:
            created = environment_create(
                tenant=obj.tenant, actor=request.user, name=obj.name
            )
            obj.pk = created.pk
            obj.created_at = created.created_at

    def delete_model(self, request, obj):
        environment_delete(environment=obj, actor=request.user)


@admin.register(ImageSettings)
class ImageSettingsAdmin(TenantScopedAdmin):
    tenant_path = "environment__tenant"
    list_display = ("app", "environment", "strategy", "registry", "repository", "tag")
    list_filter = ("strategy",)
    search_fields = ("app", "repository")
    list_select_related = ("environment__tenant", "registry")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "registry" and field is not None:
            field.queryset = scope_choices(
                request, Registry.objects.without_secrets()
            ).select_related("environment__tenant")
        return field

    def save_model(self, request, obj, form, change):
        fields = {name: getattr(obj, name) for name in IMAGE_SETTINGS_FIELDS}
        if change:
            stored = ImageSettings.objects.get(pk=obj.pk)
            image_settings_update(image_settings=stored, actor=request.user, **fields)
        else:
            created = image_settings_create(
                environment=obj.environment, actor=request.user, **fields
            )
            obj.pk = created.pk

    def delete_model(self, request, obj):
        image_settings_delete(image_settings=obj, actor=request.user)
