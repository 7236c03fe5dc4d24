"""Tenant scoping for the admin site.

Superusers see everything. Staff users see and change only the objects of
tenants in which they have the admin role: changelists, change forms,
foreign-key choices, list filters, autocomplete, search, history, delete
confirmations and submitted ids all go through the same filter. Admins of
models that belong to no tenant (users, API tokens, schedules) are for
superusers only.
"""

from django.apps import apps
from django.contrib import admin
from django.contrib.admin import widgets
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from environments.models import Environment
from gimlet.models import Tenant
from gimlet.tenancy import admin_tenant_ids_for

# The lookup path from each related model to its tenant, used to scope
# foreign-key choices.
TENANT_PATHS = {
    Tenant: "pk",
    Environment: "tenant",
    "registries.registry": "environment__tenant",
}
# Rows that are deleted with their parent although their admins forbid
# deleting them one by one: a credential's check history and a tenant's
# audit trail.
CASCADE_ONLY_MODELS = ("registries.check", "gimlet.auditevent")


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


class AutocompleteSelect(widgets.AutocompleteSelect):
    """Django's autocomplete select, skipping submitted values that are no id.

    Django 5.2's AutocompleteMixin.optgroups() looks the selected values up
    with `pk__in`, so re-rendering a form after a rejected value fails with
    ValueError ("abc") or, on SQLite, OverflowError (2**70) instead of
    showing the field's error.
    """

    def optgroups(self, name, value, attr=None):
        remote = self.field.remote_field
        target = remote.model._meta.get_field(remote.field_name)
        return super().optgroups(
            name, [item for item in value if _is_valid_value(target, item)], attr
        )


def _is_valid_value(field, value):
    try:
        field.run_validators(field.to_python(value))
    except ValidationError:
        return False
    return True


class TenantScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows and choices are limited to the user's tenants.

    `tenant_path` is the lookup from the model to its tenant. Deletes, one
    by one or in bulk, go through `delete_model()`, so that an admin whose
    deletes call a service writes the same audit events either way.
    """

    tenant_path = "tenant"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(
            **tenant_filter(self.tenant_path, admin_tenant_ids(request))
        )

    def object_tenant_id(self, obj):
        """Return the id of `obj`'s tenant without loading the tenant row."""
        *steps, last = self.tenant_path.split("__")
        target = obj
        for step in steps:
            target = getattr(target, step)
        return target.pk if last == "pk" else getattr(target, f"{last}_id")

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
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(
            request
        ):
            kwargs["widget"] = AutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None:
            field.queryset = scope_choices(request, field.queryset)
        return field

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        cascade_only = {
            apps.get_model(label)._meta.verbose_name for label in CASCADE_ONLY_MODELS
        }
        return deleted, counts, perms_needed - cascade_only, protected

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)


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


class SuperuserOnlyAdmin:
    """A ModelAdmin mixin that shows the model to active superusers only.

    Model permissions are ignored: a tenant admin granted, say,
    `auth.view_user` would otherwise see every tenant's users.
    """

    def _superuser(self, request):
        user = request.user
        return user.is_active and user.is_staff and user.is_superuser

    def has_module_permission(self, request):
        return self._superuser(request)

    def has_view_permission(self, request, obj=None):
        return self._superuser(request)

    def has_add_permission(self, request, *args):
        return self._superuser(request)

    def has_change_permission(self, request, obj=None):
        return self._superuser(request)

    def has_delete_permission(self, request, obj=None):
        return self._superuser(request)


def register_for_superusers_only(site, models):
    """Register the admins of `models` again, restricted to superusers."""
    for model in models:
        admin_class = type(site.get_model_admin(model))
        site.unregister(model)
        restricted = type(admin_class.__name__, (SuperuserOnlyAdmin, admin_class), {})
        site.register(model, restricted)


# List filters. The admin's own RelatedFieldListFilter lists every row of
# the related model, so it would show other tenants' names. These list the
# user's tenants only, and a submitted id of another tenant matches nothing.


class ScopedListFilter(admin.SimpleListFilter):
    """A SimpleListFilter whose choices come from the user's tenants."""

    def __init__(self, request, params, model, model_admin):
        self.model_admin = model_admin
        super().__init__(request, params, model, model_admin)

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value not in {str(key) for key, _label in self.lookup_choices}:
            return queryset.none()
        return queryset.filter(**{self.lookup(): value})

    def lookup(self):
        raise NotImplementedError


class TenantListFilter(ScopedListFilter):
    """Filter by tenant; shown when the user has more than one, or one is set."""

    title = "tenant"
    parameter_name = "tenant"

    def lookups(self, request, model_admin):
        tenants = scope_choices(request, Tenant.objects.order_by("name"))
        return [(tenant.pk, tenant.name) for tenant in tenants]

    def has_output(self):
        return len(self.lookup_choices) > 1 or self.value() is not None

    def lookup(self):
        return self.model_admin.tenant_path


class EnvironmentListFilter(ScopedListFilter):
    """Filter by environment, narrowed to the chosen tenant if there is one.

    For admins whose `tenant_path` ends in `environment__tenant`.
    """

    title = "environment"
    parameter_name = "environment"

    def lookups(self, request, model_admin):
        environments = scope_choices(
            request, Environment.objects.select_related("tenant")
        ).order_by("tenant__slug", "name")
        tenant = request.GET.get(TenantListFilter.parameter_name, "")
        if tenant.isdigit():
            environments = environments.filter(tenant_id=int(tenant))
        return [(environment.pk, str(environment)) for environment in environments]

    def lookup(self):
        return self.model_admin.tenant_path.removesuffix("__tenant")
