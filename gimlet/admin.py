"""Admin for tenants, their members and the audit trail.

Models that belong to no tenant (users, groups, API tokens and the beat
schedules of django-celery-beat) are registered again here for superusers
only. This module runs after those apps' admin modules, because
INSTALLED_APPS lists them first.
"""

import json

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from rest_framework.authtoken.models import TokenProxy

from gimlet.admin_scoping import (
    TenantListFilter,
    TenantScopedAdmin,
    TenantScopedInline,
    register_for_superusers_only,
)
from gimlet.models import AuditEvent, Membership, Role, Tenant
from gimlet.services import (
    admins_left_without_successor,
    last_admin_error,
    membership_add,
    membership_remove,
    membership_update,
    tenant_create,
    tenant_update,
)

admin.site.site_header = "Gimlet registries"
admin.site.site_title = "Gimlet registries"
admin.site.index_title = "Administration"
# The project serves no public site, so the admin links to none.
admin.site.site_url = None

register_for_superusers_only(
    admin.site,
    [
        get_user_model(),
        Group,
        TokenProxy,
        PeriodicTask,
        IntervalSchedule,
        CrontabSchedule,
        SolarSchedule,
        ClockedSchedule,
    ],
)


def protect_last_admins(deleted_objects, memberships):
    """Add the last admins among `memberships` to get_deleted_objects()'s result.

    The delete page and the bulk delete action both reject a deletion that
    lists protected objects.
    """
    deleted, counts, perms_needed, protected = deleted_objects
    last = [
        f"{membership.user} (the last admin of {membership.tenant})"
        for membership in admins_left_without_successor(memberships)
    ]
    return deleted, counts, perms_needed, [*protected, *last]


class UserDeletionKeepsAdmins:
    """A user admin that rejects deleting a tenant's last admin.

    Deleting a user deletes their memberships too. So the delete page and
    the bulk action list such users as protected, as the membership admin
    does for the memberships themselves.
    """

    def get_deleted_objects(self, objs, request):
        memberships = Membership._base_manager.filter(user__in=list(objs))
        return protect_last_admins(
            super().get_deleted_objects(objs, request),
            list(memberships.select_related("user", "tenant")),
        )


_user_admin = type(admin.site.get_model_admin(get_user_model()))
admin.site.unregister(get_user_model())
admin.site.register(
    get_user_model(),
    type(_user_admin.__name__, (UserDeletionKeepsAdmins, _user_admin), {}),
)


class MembershipForm(forms.ModelForm):
    """A membership whose user is fixed once it exists; the role may change."""

    class Meta:
        model = Membership
        fields = ("user", "role")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and "user" in self.fields:
            self.fields["user"].disabled = True


class MembershipChangeForm(MembershipForm):
    """A membership on its own page: its tenant must keep an admin."""

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None or cleaned.get("role") == Role.ADMIN:
            return cleaned
        stored = Membership._base_manager.get(pk=self.instance.pk)
        error = last_admin_error(stored, field="role")
        if error is not None:
            raise error
        return cleaned


class MembershipFormSet(BaseInlineFormSet):
    """A tenant's members: a tenant that had an admin keeps one."""

    def clean(self):
        super().clean()
        had_admin = any(
            form.initial.get("role") == Role.ADMIN for form in self.initial_forms
        )
        keeps_admin = any(
            form.cleaned_data.get("role") == Role.ADMIN
            and not form.cleaned_data.get("DELETE")
            for form in self.forms
        )
        if had_admin and not keeps_admin:
            raise forms.ValidationError(
                "A tenant needs at least one admin. Make another member an "
                "admin before you remove or demote the last one."
            )


class MembershipInline(TenantScopedInline):
    model = Membership
    form = MembershipForm
    formset = MembershipFormSet
    fields = ("user", "role")


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_path = "pk"
    list_display = ("name", "slug", "member_count", "created_at")
    # Explicit, because the annotated (grouped) queryset drops Meta.ordering.
    ordering = ("slug",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fields = ("name", "slug", "alert_emails")
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("memberships"))

    def get_readonly_fields(self, request, obj=None):
        return ("slug",) if obj is not None else ()

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None else self.prepopulated_fields

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.display(description="Members", ordering="member_total")
    def member_count(self, tenant):
        return tenant.member_total

    def save_model(self, request, obj, form, change):
        if change:
            stored = Tenant.objects.get(pk=obj.pk)
            tenant_update(
                tenant=stored,
                actor=request.user,
                name=obj.name,
                alert_emails=obj.alert_emails,
            )
        else:
            created = tenant_create(
                actor=request.user,
                name=obj.name,
                slug=obj.slug,
                alert_emails=obj.alert_emails,
            )
            obj.pk = created.pk
            obj.created_at = created.created_at

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The members may have changed the user's own role: forget the
        # tenants cached as the user's, so that the redirect after saving
        # goes to a page the user may still open.
        if hasattr(request, "_admin_tenant_ids"):
            del request._admin_tenant_ids

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        # Through the services, so that every change of a member is audited.
        # New admins first and removals last, so that a form that hands the
        # admin role from one member to another never passes through a
        # moment without an admin, which the services reject.
        formset.save(commit=False)
        for membership in formset.new_objects:
            membership_add(
                tenant=form.instance,
                actor=request.user,
                user=membership.user,
                role=membership.role,
            )
        changed_roles = [
            membership
            for membership, changed in formset.changed_objects
            if "role" in changed
        ]
        changed_roles.sort(key=lambda membership: membership.role != Role.ADMIN)
        for membership in changed_roles:
            stored = Membership.objects.get(pk=membership.pk)
            membership_update(
                membership=stored, actor=request.user, role=membership.role
            )
        for membership in formset.deleted_objects:
            membership_remove(membership=membership, actor=request.user)
        return None


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    form = MembershipChangeForm
    list_display = ("user", "tenant", "role", "created_at")
    list_filter = ("role", TenantListFilter)
    search_fields = ("user__username", "user__email", "tenant__slug", "tenant__name")
    list_select_related = ("user", "tenant")
    autocomplete_fields = ("tenant",)
    fields = ("tenant", "user", "role")

    def get_readonly_fields(self, request, obj=None):
        return ("tenant",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if change:
            stored = Membership.objects.get(pk=obj.pk)
            membership_update(membership=stored, actor=request.user, role=obj.role)
        else:
            created = membership_add(
                tenant=obj.tenant, actor=request.user, user=obj.user, role=obj.role
            )
            obj.pk = created.pk

    def get_deleted_objects(self, objs, request):
        return protect_last_admins(
            super().get_deleted_objects(objs, request), list(objs)
        )

    def delete_model(self, request, obj):
        membership_remove(membership=obj, actor=request.user)


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedAdmin):
    """The audit trail, read-only and searchable."""

    list_display = (
        "created_at",
        "tenant",
        "actor",
        "action",
        "target_type",
        "target_repr",
    )
    list_filter = ("action", "target_type", TenantListFilter)
    search_fields = (
        "target_repr",
        "target_type",
        "actor__username",
        "changes",
    )
    search_help_text = "Search by object, object type, user name or change."
    list_select_related = ("tenant", "actor")
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "tenant",
        "actor",
        "action",
        "target_type",
        "target_id",
        "target_repr",
        "changes_display",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Changes")
    def changes_display(self, event):
        if not event.changes:
            return "-"
        return format_html(
            "<pre>{}</pre>", json.dumps(event.changes, indent=2, sort_keys=True)
        )
