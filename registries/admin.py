from django import forms
from django.contrib import admin
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from gimlet.admin_scoping import TenantScopedAdmin, TenantScopedInline
from registries.models import Alert, Check, Registry
from registries.services import (
    EDITABLE_FIELDS,
    registry_create,
    registry_delete,
    registry_update,
)

KEEP_HELP = "Stored encrypted and never shown. Leave blank to keep the stored value."


class SecretTextarea(forms.Textarea):
    """A textarea that never renders the stored value."""

    def format_value(self, value):
        return None


class RegistryAdminForm(forms.ModelForm):
    token = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=KEEP_HELP,
    )
    certificate = forms.CharField(
        required=False,
        strip=False,
        widget=SecretTextarea(attrs={"rows": 4, "autocomplete": "off"}),
        label="CA certificate (PEM)",
        help_text=KEEP_HELP,
    )
    clear_certificate = forms.BooleanField(
        required=False, help_text="Remove the stored CA certificate."
    )

    class Meta:
        model = Registry
        # The admin adds the environment field per request, with choices
        # scoped to the user's tenants; building it here, at import time,
        # would query outside any tenant scope.
        fields = ("name", "kind", "url", "login", "expires_at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The bound form must never echo a submitted secret back either.
        for name in ("token", "certificate"):
            if name in self.fields:
                self.initial[name] = ""

    def _post_clean(self):
        # A blank secret means "keep the stored one": leaving it out of
        # cleaned_data stops construct_instance() from overwriting it.
        for name in ("token", "certificate"):
            if name in self.cleaned_data and not self.cleaned_data[name]:
                del self.cleaned_data[name]
        if self.cleaned_data.get("clear_certificate"):
            self.cleaned_data["certificate"] = ""
        super()._post_clean()


class CheckInline(TenantScopedInline):
    model = Check
    fields = (
        "created_at",
        "status",
        "message",
        "http_status",
        "duration_ms",
        "trigger",
    )
    readonly_fields = fields
    ordering = ("-created_at",)
    max_num = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Registry)
class RegistryAdmin(TenantScopedAdmin):
    form = RegistryAdminForm
    tenant_path = "environment__tenant"
    list_display = (
        "name",
        "kind",
        "environment",
        "login",
        "token_hint",
        "status",
        "expires_at",
        "checked_at",
    )
    list_filter = ("kind", "status")
    search_fields = ("name", "login", "url", "environment__name")
    list_select_related = ("environment__tenant",)
    inlines = [CheckInline]
    input_fields = (
        "environment",
        "kind",
        "name",
        "url",
        "login",
        "token",
        "certificate",
        "clear_certificate",
        "expires_at",
    )
    readonly_fields = (
        "token_hint",
        "status",
        "status_message",
        "scopes",
        "checked_at",
        "last_valid_at",
        "certificate_subject",
        "certificate_fingerprint",
        "certificate_expires_at",
        "created_at",
        "updated_at",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).without_secrets()

    def get_fields(self, request, obj=None):
        return (*self.input_fields, *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return ("kind", "environment", *self.readonly_fields)

    @method_decorator(sensitive_post_parameters("token", "certificate"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        fields = {
            name: form.cleaned_data[name]
            for name in EDITABLE_FIELDS
            if name in form.cleaned_data
        }
        if change:
            stored = Registry.objects.get(pk=obj.pk)
            saved = registry_update(registry=stored, actor=request.user, **fields)
        else:
            saved = registry_create(
                environment=obj.environment,
                actor=request.user,
                kind=obj.kind,
                **fields,
            )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        registry_delete(registry=obj, actor=request.user)


@admin.register(Alert)
class AlertAdmin(TenantScopedAdmin):
    tenant_path = "registry__environment__tenant"
    list_display = ("registry", "kind", "threshold_days", "created_at", "sent_at")
    list_filter = ("kind",)
    list_select_related = ("registry__environment__tenant",)
    readonly_fields = [field.name for field in Alert._meta.fields]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .defer("registry__token", "registry__certificate")
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
