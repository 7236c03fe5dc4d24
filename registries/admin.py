"""Admin for registry credentials, their check history and their alerts.

Adding a credential takes two steps: choose its kind, then fill in the
form of that kind, which shows only the fields the kind takes. Secrets are
write-only: the forms never render a stored token or certificate, and a
blank secret keeps the stored one. Lists never decrypt a secret.
"""

import logging
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from gimlet.admin_scoping import (
    EnvironmentListFilter,
    TenantListFilter,
    TenantScopedAdmin,
    TenantScopedInline,
)
from registries import admin_display
from registries.checking import registry_check
from registries.inputs import KIND_RULES
from registries.models import (
    SECRET_FIELDS,
    Alert,
    Check,
    ExpirySource,
    Kind,
    Registry,
    Status,
    Trigger,
)
from registries.services import (
    EDITABLE_FIELDS,
    registry_create,
    registry_delete,
    registry_schedule_check,
    registry_update,
)

logger = logging.getLogger(__name__)

KEEP_HELP = "Stored encrypted and never shown. Leave blank to keep the stored value."
# "Check now" checks this many credentials while the user waits; a larger
# selection is queued for the workers instead, since each check may take
# up to GIMLET_REQUEST_DEADLINE seconds per request.
CHECK_NOW_LIMIT = 5
CHECK_HISTORY_ROWS = 20
CHECK_MESSAGE_LEVELS = {
    Status.VALID: messages.SUCCESS,
    Status.UNCHECKED: messages.INFO,
    Status.UNREACHABLE: messages.WARNING,
    Status.INSUFFICIENT_SCOPE: messages.WARNING,
    Status.CONFIG_ERROR: messages.WARNING,
    Status.INVALID: messages.ERROR,
    Status.EXPIRED: messages.ERROR,
    Status.TLS_ERROR: messages.ERROR,
}


@dataclass(frozen=True)
class KindForm:
    """The wording of one registry kind's admin form."""

    summary: str
    url_help: str = ""
    login_label: str = "Login"
    login_help: str = ""
    token_label: str = "Token"
    token_help: str = ""


KIND_FORMS = {
    Kind.BUILTIN: KindForm(
        summary="The registry inside your cluster. It takes no login or token, "
        "so there is nothing to check or to expire.",
        url_help="host[:port] as the cluster reaches it. Leave empty for the "
        "default address.",
    ),
    Kind.GHCR: KindForm(
        summary="GitHub Container Registry (ghcr.io). It takes a GitHub user "
        "name and a classic personal access token with the write:packages "
        "scope, plus repo for packages of private repositories. The token's "
        "expiry date is read from GitHub at each check.",
        login_label="GitHub user name",
        login_help="The account that owns the token, as shown on its GitHub profile.",
        token_label="Personal access token (classic)",
        token_help="ghp_ followed by 36 letters and digits. GitHub Packages "
        "does not accept fine-grained tokens (github_pat_…).",
    ),
    Kind.DOCKERHUB: KindForm(
        summary="Docker Hub (index.docker.io). It takes a Docker ID and an "
        "access token with at least read access. Docker Hub does not report "
        "a token's expiry date, so enter it if the token has one.",
        login_label="Docker ID",
        login_help="Your Docker Hub user name, not your email address.",
        token_label="Access token",
        token_help="dckr_pat_… or dckr_oat_…, created under Account settings, "
        "Personal access tokens. An account password is not accepted.",
    ),
    Kind.CUSTOM: KindForm(
        summary="Any registry that implements the OCI distribution API. It "
        "takes a URL, a login and a token or password, and a CA certificate "
        "only when a private CA signs the registry's TLS certificate.",
        url_help="https://host[:port][/path]. A trailing /v2/ is removed.",
        token_label="Token or password",
    ),
}
# Kind names short enough for a list column.
KIND_SHORT_LABELS = {
    Kind.BUILTIN: "Built-in",
    Kind.GHCR: "GHCR",
    Kind.DOCKERHUB: "Docker Hub",
    Kind.CUSTOM: "Custom",
}
EXPIRY_HELP = (
    "When the token expires, in UTC. Leave empty if it never expires or the "
    "date is unknown."
)


def registry_fieldsets(kind, *, adding):
    """Return the admin fieldsets of a registry of `kind`.

    The fields follow the kind's input rules, so a form never shows a
    field that the kind would reject a value for.
    """
    rules = KIND_RULES[kind]
    main = ["environment", "kind", "name"]
    main.append("fixed_url" if getattr(rules, "fixed_url", "") else "url")
    if rules.requires_login:
        main.append("login")
    if rules.requires_token:
        main.append("token")
        if not adding:
            main.append("token_hint")
    fieldsets = [(None, {"fields": main})]

    if rules.accepts_certificate:
        certificate = ["certificate"]
        if not adding:
            certificate += [
                "clear_certificate",
                "certificate_subject",
                "certificate_fingerprint",
                "certificate_expiry",
            ]
        fieldsets.append(("CA certificate", {"fields": certificate}))

    if rules.requires_token:
        expiry = ["expires_at"] if rules.accepts_expiry else []
        if not adding:
            expiry.append("token_expiry")
        if expiry:
            fieldsets.append(("Token expiry", {"fields": expiry}))

    if not adding:
        last_check = [
            "status_badge",
            "status_message",
            "scopes_display",
            "checked_at",
            "last_valid_at",
            "check_history",
        ]
        fieldsets.append(("Last check", {"fields": last_check}))
        fieldsets.append(
            (
                "Record",
                {"fields": ["created_at", "updated_at"], "classes": ["collapse"]},
            )
        )
    return fieldsets


class SecretTextarea(forms.Textarea):
    """A textarea that never renders the stored value."""

    def format_value(self, value):
        return None


class RegistryAdminForm(forms.ModelForm):
    """The form of one registry kind; `registry_kind` is set for adding.

    Token and certificate are plain form fields, not model-form fields, so
    that building the form never reads (and decrypts) the stored secrets.
    `_post_clean()` copies a submitted secret to the instance, where the
    model's input rules check it.
    """

    token = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    certificate = forms.CharField(
        required=False,
        strip=False,
        widget=SecretTextarea(attrs={"rows": 6, "autocomplete": "off"}),
        label="CA certificate (PEM)",
        help_text="One or more PEM CA certificates that sign the registry's "
        "TLS certificate; never a private key.",
    )
    clear_certificate = forms.BooleanField(
        required=False,
        label="Remove the stored CA certificate",
    )

    registry_kind = None

    class Meta:
        model = Registry
        # The admin adds the environment field per request, with choices
        # scoped to the user's tenants; building it here, at import time,
        # would query outside any tenant scope.
        fields = ("name", "url", "login", "expires_at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        adding = self.instance.pk is None
        if adding:
            self.instance.kind = self.registry_kind
        self._fit_fields_to_kind(self.instance.kind, adding=adding)

    def _fit_fields_to_kind(self, kind, *, adding):
        rules = KIND_RULES[kind]
        wording = KIND_FORMS[kind]
        applicable = set()
        if rules.requires_token:
            applicable.add("token")
        if rules.accepts_certificate:
            applicable.add("certificate")
            if not adding:
                applicable.add("clear_certificate")
        for name in ("token", "certificate", "clear_certificate"):
            if name not in applicable:
                self.fields.pop(name, None)

        if "url" in self.fields:
            self.fields["url"].help_text = wording.url_help
            if kind == Kind.BUILTIN and adding:
                self.fields["url"].initial = settings.GIMLET_BUILTIN_REGISTRY_URL
        if "login" in self.fields:
            self.fields["login"].required = True
            self.fields["login"].label = wording.login_label
            self.fields["login"].help_text = wording.login_help
        if "token" in self.fields:
            token = self.fields["token"]
            token.label = wording.token_label
            token.required = adding
            token.help_text = wording.token_help
            if not adding:
                token.help_text = f"{wording.token_help} {KEEP_HELP}".strip()
        if "certificate" in self.fields and not adding:
            self.fields["certificate"].help_text += f" {KEEP_HELP}"
        if "expires_at" in self.fields:
            self.fields["expires_at"].help_text = EXPIRY_HELP

    def clean(self):
        cleaned_data = super().clean()
        if cleaned_data.get("clear_certificate") and cleaned_data.get("certificate"):
            self.add_error(
                "certificate",
                "Either paste a new certificate or remove the stored one, not both.",
            )
        return cleaned_data

    def _post_clean(self):
        # A blank secret means "keep the stored one".
        for name in SECRET_FIELDS:
            if name in self.cleaned_data and not self.cleaned_data[name]:
                del self.cleaned_data[name]
        if self.cleaned_data.get("clear_certificate"):
            self.cleaned_data["certificate"] = ""
        for name in SECRET_FIELDS:
            if name in self.cleaned_data:
                setattr(self.instance, name, self.cleaned_data[name] or None)
        super()._post_clean()


class LatestChecksFormSet(BaseInlineFormSet):
    """The newest CHECK_HISTORY_ROWS checks, read once."""

    def get_queryset(self):
        if not hasattr(self, "_latest_checks"):
            self._latest_checks = list(super().get_queryset()[:CHECK_HISTORY_ROWS])
        return self._latest_checks


class CheckInline(TenantScopedInline):
    model = Check
    formset = LatestChecksFormSet
    verbose_name_plural = f"latest {CHECK_HISTORY_ROWS} checks"
    fields = (
        "created_at",
        "status_badge",
        "message",
        "http_status",
        "duration_ms",
        "trigger",
    )
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    max_num = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Status")
    def status_badge(self, check):
        return admin_display.status_badge(check.status)


class ExpiringListFilter(admin.SimpleListFilter):
    """Credentials whose token or CA certificate expires soon, or has."""

    title = "expiring soon"
    parameter_name = "expiring"

    def lookups(self, request, model_admin):
        days = sorted({7, settings.GIMLET_EXPIRING_WINDOW_DAYS, 30})
        return [
            ("expired", "Already expired"),
            *((str(day), f"Within {day} days") for day in days),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == "expired":
            now = timezone.now()
            return queryset.filter(
                Q(expires_at__lte=now) | Q(certificate_expires_at__lte=now)
            )
        if value in {key for key, _label in self.lookup_choices}:
            return queryset.expiring_within(int(value))
        return queryset.none()


@admin.register(Registry)
class RegistryAdmin(TenantScopedAdmin):
    form = RegistryAdminForm
    tenant_path = "environment__tenant"
    list_display = (
        "name",
        "kind_short",
        "environment",
        "credential",
        "status_and_last_check",
        "expiry",
    )
    list_filter = (
        "status",
        "kind",
        TenantListFilter,
        EnvironmentListFilter,
        ExpiringListFilter,
    )
    search_fields = (
        "name",
        "login",
        "url",
        "environment__name",
        "environment__tenant__slug",
    )
    search_help_text = "Search by name, login, URL, environment or tenant slug."
    list_select_related = ("environment__tenant",)
    autocomplete_fields = ("environment",)
    actions = ["check_now"]
    inlines = [CheckInline]

    def get_queryset(self, request):
        return super().get_queryset(request).without_secrets()

    # Adding: choose the kind first.

    @staticmethod
    def requested_kind(request):
        kind = request.GET.get("kind")
        return kind if kind in Kind.values else None

    def add_view(self, request, form_url="", extra_context=None):
        kind = self.requested_kind(request)
        if kind is None:
            return self.kind_choice_view(request)
        query = request.GET.copy()
        del query["kind"]
        extra_context = {
            "title": f"Add {Kind(kind).label} credential",
            "kind_summary": KIND_FORMS[kind].summary,
            "kind_choice_url": f"?{query.urlencode()}",
            **(extra_context or {}),
        }
        return super().add_view(request, form_url, extra_context)

    def kind_choice_view(self, request):
        """Render the first step of adding a credential: its kind."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        kinds = []
        for kind in Kind:
            query = request.GET.copy()
            query["kind"] = kind.value
            kinds.append(
                {
                    "value": kind.value,
                    "label": kind.label,
                    "summary": KIND_FORMS[kind].summary,
                    "url": f"?{query.urlencode()}",
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Add registry",
            "subtitle": "Choose the kind of registry",
            "opts": self.opts,
            "kinds": kinds,
            "unknown_kind": request.GET.get("kind", ""),
            "has_view_permission": self.has_view_permission(request),
            "is_popup": IS_POPUP_VAR in request.GET,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/registries/registry/choose_kind.html", context
        )

    # The change form.

    def get_inline_instances(self, request, obj=None):
        # A credential being added has no check history yet.
        return [] if obj is None else super().get_inline_instances(request, obj)

    def get_fieldsets(self, request, obj=None):
        kind = obj.kind if obj is not None else self.requested_kind(request)
        return registry_fieldsets(kind, adding=obj is None)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("kind", "fixed_url")
        return (
            "environment",
            "kind",
            "fixed_url",
            "token_hint",
            "certificate_subject",
            "certificate_fingerprint",
            "certificate_expiry",
            "token_expiry",
            "status_badge",
            "status_message",
            "scopes_display",
            "checked_at",
            "last_valid_at",
            "check_history",
            "created_at",
            "updated_at",
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        fields = kwargs.pop("fields", None) or flatten_fieldsets(
            self.get_fieldsets(request, obj)
        )
        declared = RegistryAdminForm.declared_fields
        kwargs["fields"] = [name for name in fields if name not in declared]
        form = super().get_form(request, obj, change=change, **kwargs)
        form.registry_kind = (
            obj.kind if obj is not None else self.requested_kind(request)
        )
        return form

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None and self.has_change_permission(request, obj):
            context["check_url"] = reverse(
                "admin:registries_registry_check", args=[obj.pk]
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

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
            self.message_user(
                request,
                "Its first check runs in the background; the list shows the "
                "result once it has run.",
                messages.INFO,
            )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        registry_delete(registry=obj, actor=request.user)

    # Columns and read-only fields.

    @admin.display(description="Kind", ordering="kind")
    def kind_short(self, registry):
        return KIND_SHORT_LABELS.get(registry.kind, registry.get_kind_display())

    @admin.display(description="Status", ordering="status")
    def status_badge(self, registry):
        return admin_display.registry_status_badge(registry)

    @admin.display(description="Expires", ordering="expires_at")
    def expiry(self, registry):
        return admin_display.expiry_summary(registry)

    @admin.display(description="Login and token")
    def credential(self, registry):
        return format_html(
            '{}<div class="gimlet-muted">{}</div>',
            registry.login or "-",
            registry.token_hint,
        )

    @admin.display(description="Status and last check", ordering="status")
    def status_and_last_check(self, registry):
        return format_html(
            "{}{}",
            admin_display.registry_status_badge(registry),
            admin_display.last_check(registry),
        )

    @admin.display(description="URL")
    def fixed_url(self, registry):
        return getattr(KIND_RULES[registry.kind], "fixed_url", "") or registry.url

    @admin.display(description="Token expires")
    def token_expiry(self, registry):
        if registry.expires_at is not None:
            return admin_display.dated_expiry(registry.expires_at)
        if registry.expires_at_source == ExpirySource.REGISTRY:
            return "Never: the registry reported no expiry date."
        return "Unknown until a check reads it or a date is entered."

    @admin.display(description="Certificate expires")
    def certificate_expiry(self, registry):
        if registry.certificate_expires_at is None:
            return "-"
        return admin_display.dated_expiry(registry.certificate_expires_at)

    @admin.display(description="Scopes")
    def scopes_display(self, registry):
        return ", ".join(registry.scopes)

    @admin.display(description="History")
    def check_history(self, registry):
        url = reverse("admin:registries_check_changelist")
        return format_html(
            '<a href="{}?registry__id__exact={}">All checks of this credential</a>',
            url,
            registry.pk,
        )

    # Checking.

    def get_urls(self):
        check = path(
            "<path:object_id>/check/",
            self.admin_site.admin_view(self.check_view),
            name="registries_registry_check",
        )
        return [check, *super().get_urls()]

    def check_view(self, request, object_id):
        """Check one credential now and return to its change form."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        registry = self.get_object(request, unquote(object_id))
        if registry is None:
            raise Http404("No registry matches the given id.")
        if not self.has_change_permission(request, registry):
            raise PermissionDenied
        self.check_and_report(request, [registry])
        return HttpResponseRedirect(
            reverse("admin:registries_registry_change", args=[registry.pk])
        )

    @admin.action(description="Check now", permissions=["change"])
    def check_now(self, request, queryset):
        registries = list(
            queryset.select_related("environment__tenant")[: CHECK_NOW_LIMIT + 1]
        )
        if len(registries) <= CHECK_NOW_LIMIT:
            self.check_and_report(request, registries)
            return
        registry_ids = list(queryset.values_list("pk", flat=True))
        for registry_id in registry_ids:
            registry_schedule_check(
                registry_id=registry_id, trigger=Trigger.MANUAL, actor=request.user
            )
        self.message_user(
            request,
            f"Queued checks of {len(registry_ids)} credentials, because more "
            f"than {CHECK_NOW_LIMIT} were selected. The list shows their "
            "results once the workers have run them.",
            messages.INFO,
        )

    def check_and_report(self, request, registries):
        """Check each registry now and report each result as a message."""
        for registry in registries:
            label = f"{registry.name} in {registry.environment}"
            try:
                check = registry_check(
                    registry_id=registry.pk,
                    trigger=Trigger.MANUAL,
                    actor=request.user,
                )
            except Exception:
                # One failing check must not hide the results of the others.
                logger.exception(
                    "Check now of registry %s (tenant %s) failed",
                    registry.pk,
                    registry.environment.tenant_id,
                )
                self.message_user(
                    request,
                    f"Could not check {label}: the check failed with an "
                    "internal error. The server log has the details.",
                    messages.ERROR,
                )
                continue
            if check is None:
                self.message_user(
                    request,
                    f"Skipped {label}: another check of it is running, or it "
                    "changed during this one. Reload the page in a moment to "
                    "see the result.",
                    messages.INFO,
                )
                continue
            self.message_user(
                request,
                f"Checked {label}: {check.get_status_display()}. {check.message}",
                CHECK_MESSAGE_LEVELS.get(check.status, messages.INFO),
            )


@admin.register(Check)
class CheckAdmin(TenantScopedAdmin):
    """The full check history, read-only."""

    tenant_path = "registry__environment__tenant"
    list_display = (
        "created_at",
        "registry",
        "environment",
        "status_badge",
        "trigger",
        "http_status",
        "duration_ms",
        "message",
    )
    list_filter = ("status", "trigger", TenantListFilter, EnvironmentListFilter)
    search_fields = ("registry__name", "message")
    list_select_related = ("registry__environment__tenant",)
    readonly_fields = [field.name for field in Check._meta.fields]

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

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Environment", ordering="registry__environment")
    def environment(self, check):
        return check.registry.environment

    @admin.display(description="Status", ordering="status")
    def status_badge(self, check):
        return admin_display.status_badge(check.status)


@admin.register(Alert)
class AlertAdmin(TenantScopedAdmin):
    tenant_path = "registry__environment__tenant"
    list_display = (
        "registry",
        "environment",
        "kind",
        "threshold_days",
        "created_at",
        "sent_at",
        "attempts",
    )
    list_filter = ("kind", TenantListFilter, EnvironmentListFilter)
    search_fields = ("registry__name", "detail")
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

    @admin.display(description="Environment", ordering="registry__environment")
    def environment(self, alert):
        return alert.registry.environment
