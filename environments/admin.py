"""Admin for environments and the image settings of their apps.

Adding image settings takes two steps, like adding a credential: choose
the environment, then the form, whose registry choices are that
environment's registries only.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.template.response import TemplateResponse

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
from gimlet.admin_scoping import (
    AutocompleteSelect,
    EnvironmentListFilter,
    TenantListFilter,
    TenantScopedAdmin,
    TenantScopedInline,
    scope_choices,
)
from registries import admin_display
from registries.models import Registry


class RegistryInline(TenantScopedInline):
    model = Registry
    fields = ("name", "kind", "login", "token_hint", "status_badge", "expiry")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).without_secrets()

    @admin.display(description="Status")
    def status_badge(self, registry):
        return admin_display.registry_status_badge(registry)

    @admin.display(description="Expires")
    def expiry(self, registry):
        return admin_display.expiry_summary(registry)


@admin.register(Environment)
class EnvironmentAdmin(TenantScopedAdmin):
    list_display = ("name", "tenant", "registry_count", "created_at")
    # Explicit, because the annotated (grouped) queryset drops Meta.ordering.
    ordering = ("tenant__slug", "name")
    list_filter = (TenantListFilter,)
    search_fields = ("name", "tenant__slug", "tenant__name")
    list_select_related = ("tenant",)
    autocomplete_fields = ("tenant",)
    inlines = [RegistryInline]

    def get_queryset(self, request):
        # select_related: the environment's name includes its tenant's slug,
        # which autocomplete results and inlines would load row by row.
        return (
            super()
            .get_queryset(request)
            .select_related("tenant")
            .annotate(registry_total=Count("registries"))
        )

    def get_readonly_fields(self, request, obj=None):
        return ("tenant",) if obj is not None else ()

    @admin.display(description="Registries", ordering="registry_total")
    def registry_count(self, environment):
        return environment.registry_total

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


class EnvironmentChoiceForm(forms.Form):
    """The first step of adding image settings: one of the user's environments."""

    def __init__(self, *args, request, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["environment"] = forms.ModelChoiceField(
            queryset=scope_choices(
                request, Environment.objects.select_related("tenant")
            ),
            widget=AutocompleteSelect(
                ImageSettings._meta.get_field("environment"), admin_site
            ),
            help_text="The image settings belong to this environment, and "
            "their registry is one of its registries.",
        )


class ImageSettingsAdminForm(forms.ModelForm):
    """Image settings in one environment, set by the admin for adding."""

    environment_for_adding = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.instance.environment = self.environment_for_adding


@admin.register(ImageSettings)
class ImageSettingsAdmin(TenantScopedAdmin):
    form = ImageSettingsAdminForm
    tenant_path = "environment__tenant"
    fields = ("environment", "app", "strategy", "registry", "repository", "tag")
    readonly_fields = ("environment",)
    list_display = ("app", "environment", "strategy", "registry", "repository", "tag")
    list_filter = ("strategy", TenantListFilter, EnvironmentListFilter)
    search_fields = ("app", "repository", "environment__name")
    list_select_related = ("environment__tenant", "registry")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .defer("registry__token", "registry__certificate")
        )

    def requested_environment(self, request):
        """Return the environment named by ?environment=, if the user may see it."""
        if not hasattr(request, "_image_settings_environment"):
            form = EnvironmentChoiceForm(
                request.GET, request=request, admin_site=self.admin_site
            )
            request._image_settings_environment = (
                form.cleaned_data["environment"] if form.is_valid() else None
            )
        return request._image_settings_environment

    def add_view(self, request, form_url="", extra_context=None):
        environment = self.requested_environment(request)
        if environment is None:
            return self.environment_choice_view(request)
        extra_context = {
            "title": f"Add image settings in {environment}",
            **(extra_context or {}),
        }
        return super().add_view(request, form_url, extra_context)

    def environment_choice_view(self, request):
        """Render the first step of adding image settings: the environment."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        bound = "environment" in request.GET
        form = EnvironmentChoiceForm(
            request.GET if bound else None,
            request=request,
            admin_site=self.admin_site,
        )
        if bound:
            form.is_valid()
        context = {
            **self.admin_site.each_context(request),
            "title": "Add image settings",
            "subtitle": "Choose the environment",
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
            "preserved": [
                (name, value)
                for name, value in request.GET.items()
                if name != "environment"
            ],
            "has_view_permission": self.has_view_permission(request),
            "is_popup": IS_POPUP_VAR in request.GET,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            "admin/environments/imagesettings/choose_environment.html",
            context,
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        environment = (
            obj.environment if obj is not None else self.requested_environment(request)
        )
        form.environment_for_adding = environment
        registry = form.base_fields.get("registry")
        if registry is not None:
            registry.queryset = (
                scope_choices(request, Registry.objects.without_secrets())
                .filter(environment=environment)
                .order_by("name")
            )
            registry.help_text = (
                f"The registries of {environment}. Add one on the environment's "
                "page if it has none yet."
            )
            # A registry added from this form's popup could belong to any
            # environment, so adding one here is left to the registry admin.
            registry.widget.can_add_related = False
            registry.widget.can_delete_related = False
        return form

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
