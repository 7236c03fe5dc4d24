"""The admin as seen by tenant B's admin, a staff user who is also a plain
member of tenant A.

None of A's rows may show in any changelist, filter, dropdown, autocomplete
result, search result, history or delete page. No request with A's ids may
change anything.
"""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from environments.models import Environment, ImageSettings
from gimlet.admin_scoping import SuperuserOnlyAdmin, TenantScopedAdmin
from gimlet.models import AuditEvent, Membership, Role
from registries.models import Check, Kind, Registry
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

MARK_A = "acme"
CHANGELISTS = [
    "gimlet_tenant",
    "gimlet_membership",
    "gimlet_auditevent",
    "environments_environment",
    "environments_imagesettings",
    "registries_registry",
    "registries_check",
    "registries_alert",
]
# Every foreign key whose admin widget may ask the autocomplete view for
# choices: (app label, model, field).
AUTOCOMPLETE_SOURCES = [
    ("registries", "registry", "environment"),
    ("registries", "check", "registry"),
    ("registries", "alert", "registry"),
    ("environments", "environment", "tenant"),
    ("environments", "imagesettings", "environment"),
    ("environments", "imagesettings", "registry"),
    ("gimlet", "membership", "tenant"),
    ("gimlet", "auditevent", "tenant"),
]
SUPERUSER_ONLY = [
    "auth_user",
    "auth_group",
    "authtoken_tokenproxy",
    "django_celery_beat_periodictask",
    "django_celery_beat_intervalschedule",
    "django_celery_beat_crontabschedule",
    "django_celery_beat_solarschedule",
    "django_celery_beat_clockedschedule",
]


def html(response):
    return response.content.decode()


def shows_a(response):
    return MARK_A in html(response).lower()


def objects_of(world):
    """Each admin-visible object of a world, by admin URL name."""
    return {
        "gimlet_tenant": world.tenant,
        "gimlet_membership": Membership.objects.filter(tenant=world.tenant).first(),
        "gimlet_auditevent": world.audit_event,
        "environments_environment": world.environment,
        "environments_imagesettings": world.image_settings,
        "registries_registry": world.ghcr,
        "registries_check": world.check,
        "registries_alert": world.alert,
    }


def row_counts():
    return {
        model: model.objects.count()
        for model in (Registry, Environment, ImageSettings, Membership, Check)
    }


class TestChangelists:
    @pytest.mark.parametrize("changelist", CHANGELISTS)
    def test_rows_of_other_tenant_hidden(self, client_b, world_a, changelist):
        response = client_b.get(reverse(f"admin:{changelist}_changelist"))

        assert response.status_code == 200
        assert response.context["cl"].result_count > 0
        assert not shows_a(response)

    @pytest.mark.parametrize("changelist", CHANGELISTS)
    def test_facet_counts_hide_other_tenant(self, client_b, world_a, changelist):
        url = reverse(f"admin:{changelist}_changelist")

        response = client_b.get(url, {"_facets": "True"})

        assert response.status_code == 200
        assert not shows_a(response)

    @pytest.mark.parametrize("changelist", CHANGELISTS)
    def test_search_finds_nothing_of_other_tenant(self, client_b, world_a, changelist):
        response = client_b.get(
            reverse(f"admin:{changelist}_changelist"), {"q": MARK_A}
        )

        assert response.status_code == 200
        assert response.context["cl"].result_count == 0

    def test_search_finds_own_rows(self, client_b, world_b):
        url = reverse("admin:registries_registry_changelist")

        response = client_b.get(url, {"q": "bravo-ghcr"})

        assert response.context["cl"].result_count == 1

    def test_full_count_is_scoped(self, client_b, world_a, world_b):
        url = reverse("admin:registries_registry_changelist")

        response = client_b.get(url, {"q": "bravo-ghcr"})

        assert response.context["cl"].full_result_count == len(world_b.registries)


class TestFilters:
    @pytest.mark.parametrize(
        "changelist",
        [
            "registries_registry",
            "registries_check",
            "registries_alert",
            "environments_imagesettings",
        ],
    )
    def test_environment_filter_lists_own_only(self, client_b, world_a, changelist):
        response = client_b.get(reverse(f"admin:{changelist}_changelist"))

        environment_filter = next(
            spec
            for spec in response.context["cl"].filter_specs
            if getattr(spec, "parameter_name", None) == "environment"
        )
        labels = [label for _value, label in environment_filter.lookup_choices]
        assert labels == ["bravo-tenant/bravo-env"]

    def test_tenant_filter_lists_own_tenants_only(self, client_b, world_a, world_b):
        # A second administered tenant makes the tenant filter appear.
        other = MembershipFactory(
            user=world_b.admin, tenant__name="Bravo Two", role=Role.ADMIN
        )
        url = reverse("admin:registries_registry_changelist")

        response = client_b.get(url)

        tenant_filter = next(
            spec
            for spec in response.context["cl"].filter_specs
            if getattr(spec, "parameter_name", None) == "tenant"
        )
        labels = sorted(label for _value, label in tenant_filter.lookup_choices)
        assert labels == ["Bravo Corp", other.tenant.name]
        assert not shows_a(response)

    @pytest.mark.parametrize(
        ("changelist", "parameter", "target"),
        [
            ("registries_registry", "tenant", "tenant"),
            ("registries_registry", "environment", "environment"),
            ("registries_check", "tenant", "tenant"),
            ("registries_alert", "environment", "environment"),
            ("environments_environment", "tenant", "tenant"),
            ("environments_imagesettings", "environment", "environment"),
            ("gimlet_membership", "tenant", "tenant"),
            ("gimlet_auditevent", "tenant", "tenant"),
        ],
    )
    def test_other_tenant_id_filters_to_nothing(
        self, client_b, world_a, changelist, parameter, target
    ):
        url = reverse(f"admin:{changelist}_changelist")

        response = client_b.get(url, {parameter: getattr(world_a, target).pk})

        assert response.status_code == 200
        assert response.context["cl"].result_count == 0
        assert not shows_a(response)


class TestDropdowns:
    """Add and change forms offer only the user's tenants' objects."""

    @pytest.mark.parametrize("kind", Kind.values)
    def test_registry_add_form_ignores_other_environment(self, client_b, world_a, kind):
        url = reverse("admin:registries_registry_add")

        response = client_b.get(
            url, {"kind": kind, "environment": world_a.environment.pk}
        )

        assert response.status_code == 200
        assert not shows_a(response)

    def test_registry_environment_choices(self, client_b, world_a, world_b):
        response = client_b.get(
            reverse("admin:registries_registry_add"), {"kind": "builtin"}
        )

        choices = response.context["adminform"].form.fields["environment"].queryset
        assert list(choices) == [world_b.environment]

    def test_image_settings_registry_choices(self, client_b, world_a, world_b):
        response = client_b.get(
            reverse("admin:environments_imagesettings_add"),
            {"environment": world_b.environment.pk},
        )

        choices = response.context["adminform"].form.fields["registry"].queryset
        assert set(choices) == set(world_b.registries)
        assert not shows_a(response)

    def test_image_settings_chooser_ignores_other_environment(self, client_b, world_a):
        response = client_b.get(
            reverse("admin:environments_imagesettings_add"),
            {"environment": world_a.environment.pk},
        )

        assert response.status_code == 200
        assert "adminform" not in response.context
        assert not shows_a(response)

    def test_membership_add_form(self, client_b, world_a, world_b):
        response = client_b.get(reverse("admin:gimlet_membership_add"))

        form = response.context["adminform"].form
        assert list(form.fields["tenant"].queryset) == [world_b.tenant]
        users = set(form.fields["user"].queryset)
        assert users == {world_b.admin, world_b.member}
        assert not shows_a(response)

    def test_tenant_members_inline_choices(self, client_b, world_a, world_b):
        url = reverse("admin:gimlet_tenant_change", args=[world_b.tenant.pk])

        response = client_b.get(url)

        assert response.status_code == 200
        assert not shows_a(response)

    @pytest.mark.parametrize("changelist", CHANGELISTS)
    def test_change_forms_of_own_objects(self, client_b, world_a, world_b, changelist):
        obj = objects_of(world_b)[changelist]

        response = client_b.get(reverse(f"admin:{changelist}_change", args=[obj.pk]))

        assert response.status_code == 200
        assert not shows_a(response)

    @pytest.mark.parametrize(
        "add_view",
        [
            "environments_environment_add",
            "gimlet_membership_add",
            "environments_imagesettings_add",
            "registries_registry_add",
        ],
    )
    def test_add_views(self, client_b, world_a, add_view):
        response = client_b.get(reverse(f"admin:{add_view}"))

        assert response.status_code == 200
        assert not shows_a(response)


class TestAutocomplete:
    @pytest.mark.parametrize(
        ("app_label", "model_name", "field_name"), AUTOCOMPLETE_SOURCES
    )
    @pytest.mark.parametrize("term", ["", MARK_A, "a"])
    def test_results_hide_other_tenant(
        self, client_b, world_a, app_label, model_name, field_name, term
    ):
        response = client_b.get(
            reverse("admin:autocomplete"),
            {
                "app_label": app_label,
                "model_name": model_name,
                "field_name": field_name,
                "term": term,
            },
        )

        assert response.status_code == 200
        assert MARK_A not in response.content.decode().lower()

    def test_results_list_own_environments(self, client_b, world_b):
        response = client_b.get(
            reverse("admin:autocomplete"),
            {
                "app_label": "registries",
                "model_name": "registry",
                "field_name": "environment",
                "term": "bravo",
            },
        )

        texts = [result["text"] for result in response.json()["results"]]
        assert texts == ["bravo-tenant/bravo-env"]

    @pytest.mark.parametrize("model_name", ["membership", "auditevent"])
    def test_user_choices_are_superuser_only(self, client_b, world_a, model_name):
        field_name = "user" if model_name == "membership" else "actor"

        response = client_b.get(
            reverse("admin:autocomplete"),
            {
                "app_label": "gimlet",
                "model_name": model_name,
                "field_name": field_name,
                "term": MARK_A,
            },
        )

        assert response.status_code == 403


class TestObjectViewsOfOtherTenant:
    """A's objects look exactly like ids that do not exist."""

    @pytest.mark.parametrize("changelist", CHANGELISTS)
    @pytest.mark.parametrize("view", ["change", "history", "delete"])
    def test_view_redirects_like_missing_id(self, client_b, world_a, changelist, view):
        obj = objects_of(world_a)[changelist]
        missing = 987654

        response = client_b.get(reverse(f"admin:{changelist}_{view}", args=[obj.pk]))
        absent = client_b.get(reverse(f"admin:{changelist}_{view}", args=[missing]))

        assert response.status_code == absent.status_code
        assert response.status_code in {302, 403, 404}
        assert not shows_a(response)
        if response.status_code == 302:
            followed = client_b.get(response.url)
            assert str(obj.pk) in html(followed)
            assert not shows_a(followed)

    def test_view_on_site_shortcut_like_missing_id(self, client_b, world_a):
        content_type = ContentType.objects.get_for_model(Registry)

        response = client_b.get(f"/admin/r/{content_type.pk}/{world_a.ghcr.pk}/")
        absent = client_b.get(f"/admin/r/{content_type.pk}/987654/")

        assert response.status_code == absent.status_code == 404
        assert response.content.replace(
            str(world_a.ghcr.pk).encode(), b"ID"
        ) == absent.content.replace(b"987654", b"ID")

    def test_check_view_like_missing_id(self, client_b, world_a):
        url = reverse("admin:registries_registry_check", args=[world_a.ghcr.pk])
        absent = reverse("admin:registries_registry_check", args=[987654])

        response = client_b.post(url)

        assert response.status_code == client_b.post(absent).status_code == 404
        assert (
            not Check.objects.filter(registry=world_a.ghcr)
            .exclude(pk=world_a.check.pk)
            .exists()
        )


class TestWritesWithOtherTenantIds:
    """POSTs naming A's objects are refused and change nothing."""

    def test_registry_add_in_other_environment(self, client_b, world_a):
        before = row_counts()

        response = client_b.post(
            reverse("admin:registries_registry_add") + "?kind=builtin",
            {"environment": world_a.environment.pk, "name": "sneaky", "url": ""},
        )

        assert response.status_code == 200
        assert "Select a valid choice" in html(response)
        assert row_counts() == before

    def test_registry_add_without_kind_saves_nothing(self, client_b, world_b):
        before = row_counts()

        response = client_b.post(
            reverse("admin:registries_registry_add"),
            {"environment": world_b.environment.pk, "kind": Kind.BUILTIN},
        )

        assert response.status_code == 200
        assert row_counts() == before

    def test_registry_change_of_other_tenant(self, client_b, world_a):
        url = reverse("admin:registries_registry_change", args=[world_a.ghcr.pk])

        response = client_b.post(url, {"name": "renamed", "login": "octocat"})

        assert response.status_code == 302
        world_a.ghcr.refresh_from_db()
        assert world_a.ghcr.name == "acme-ghcr"

    def test_image_settings_with_other_tenant_registry(
        self, client_b, world_a, world_b
    ):
        before = row_counts()
        url = reverse("admin:environments_imagesettings_add")

        response = client_b.post(
            f"{url}?environment={world_b.environment.pk}",
            {
                "app": "sneaky",
                "strategy": "dockerfile",
                "registry": world_a.ghcr.pk,
                "tag": "latest",
            },
        )

        assert response.status_code == 200
        assert "Select a valid choice" in html(response)
        assert row_counts() == before

    def test_image_settings_in_other_environment(self, client_b, world_a):
        before = row_counts()
        url = reverse("admin:environments_imagesettings_add")

        response = client_b.post(
            f"{url}?environment={world_a.environment.pk}",
            {
                "app": "sneaky",
                "strategy": "dockerfile",
                "registry": world_a.ghcr.pk,
                "tag": "latest",
            },
        )

        assert response.status_code == 200
        assert row_counts() == before

    def test_environment_add_in_other_tenant(self, client_b, world_a):
        before = row_counts()

        response = client_b.post(
            reverse("admin:environments_environment_add"),
            {
                "tenant": world_a.tenant.pk,
                "name": "sneaky",
                "registries-TOTAL_FORMS": "0",
                "registries-INITIAL_FORMS": "0",
            },
        )

        assert response.status_code == 200
        assert "Select a valid choice" in html(response)
        assert row_counts() == before

    @pytest.mark.parametrize("target", ["tenant", "user"])
    def test_membership_add_with_other_tenant_ids(
        self, client_b, world_a, world_b, target
    ):
        before = row_counts()
        data = {"tenant": world_b.tenant.pk, "user": world_b.member.pk, "role": "admin"}
        data[target] = getattr(world_a, "tenant" if target == "tenant" else "admin").pk

        response = client_b.post(reverse("admin:gimlet_membership_add"), data)

        assert response.status_code == 200
        assert "Select a valid choice" in html(response)
        assert row_counts() == before

    def test_tenant_inline_adds_no_other_tenant_user(self, client_b, world_a, world_b):
        before = row_counts()
        memberships = list(Membership.objects.filter(tenant=world_b.tenant))
        data = {
            "name": world_b.tenant.name,
            "alert_emails": "[]",
            "memberships-TOTAL_FORMS": str(len(memberships) + 1),
            "memberships-INITIAL_FORMS": str(len(memberships)),
        }
        for index, membership in enumerate(memberships):
            data[f"memberships-{index}-id"] = membership.pk
            data[f"memberships-{index}-tenant"] = world_b.tenant.pk
            data[f"memberships-{index}-role"] = membership.role
        new = len(memberships)
        data[f"memberships-{new}-tenant"] = world_b.tenant.pk
        data[f"memberships-{new}-user"] = world_a.admin.pk
        data[f"memberships-{new}-role"] = "admin"
        url = reverse("admin:gimlet_tenant_change", args=[world_b.tenant.pk])

        response = client_b.post(url, data)

        assert response.status_code == 200
        assert "Select a valid choice" in html(response)
        assert row_counts() == before

    def test_delete_view_of_other_tenant(self, client_b, world_a):
        url = reverse("admin:registries_registry_delete", args=[world_a.builtin.pk])

        client_b.post(url, {"post": "yes"})

        assert Registry.objects.filter(pk=world_a.builtin.pk).exists()

    @pytest.mark.parametrize(
        ("changelist", "attribute"),
        [
            ("registries_registry", "builtin"),
            ("environments_environment", "environment"),
            ("environments_imagesettings", "image_settings"),
            ("registries_alert", "alert"),
        ],
    )
    def test_bulk_delete_of_other_tenant(
        self, client_b, world_a, changelist, attribute
    ):
        obj = getattr(world_a, attribute)
        url = reverse(f"admin:{changelist}_changelist")

        client_b.post(
            url,
            {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
        )

        assert type(obj).objects.filter(pk=obj.pk).exists()

    def test_check_now_action_on_other_tenant(self, client_b, world_a):
        before = Check.objects.count()

        response = client_b.post(
            reverse("admin:registries_registry_changelist"),
            {"action": "check_now", "_selected_action": [world_a.ghcr.pk]},
        )

        assert response.status_code == 302
        assert Check.objects.count() == before

    def test_audit_events_unchanged(self, client_b, world_a):
        before = AuditEvent.objects.filter(tenant=world_a.tenant).count()
        url = reverse("admin:registries_registry_change", args=[world_a.ghcr.pk])

        client_b.post(url, {"name": "renamed", "login": "octocat"})

        assert AuditEvent.objects.filter(tenant=world_a.tenant).count() == before


class TestRoles:
    def test_member_role_sees_no_admin_models(self, client, world_a):
        client.force_login(world_a.member)

        response = client.get(reverse("admin:registries_registry_changelist"))

        assert response.status_code == 403

    def test_member_role_index_lists_nothing(self, client, world_a):
        client.force_login(world_a.member)

        response = client.get(reverse("admin:index"))

        assert response.context["app_list"] == []

    def test_member_role_of_a_shows_nothing_of_a(self, client_b, world_a):
        response = client_b.get(reverse("admin:environments_environment_changelist"))

        names = [environment.name for environment in response.context["cl"].result_list]
        assert names == ["bravo-env"]

    def test_superuser_sees_every_tenant(self, client_root, world_a, world_b):
        response = client_root.get(reverse("admin:registries_registry_changelist"))

        assert "acme-ghcr" in html(response)
        assert "bravo-ghcr" in html(response)


class TestSuperuserOnlyModels:
    @pytest.mark.parametrize("changelist", SUPERUSER_ONLY)
    def test_tenant_admin_refused(self, client_b, changelist):
        response = client_b.get(reverse(f"admin:{changelist}_changelist"))

        assert response.status_code == 403

    @pytest.mark.parametrize("changelist", SUPERUSER_ONLY)
    def test_model_permissions_do_not_help(self, client_b, world_b, changelist):
        app_label, _, model_name = changelist.partition("_")
        if app_label == "django":
            app_label, model_name = "django_celery_beat", changelist.split("_")[-1]
        world_b.admin.user_permissions.add(
            *Permission.objects.filter(
                content_type__app_label=app_label, content_type__model=model_name
            )
        )

        response = client_b.get(reverse(f"admin:{changelist}_changelist"))

        assert response.status_code == 403

    @pytest.mark.parametrize("changelist", SUPERUSER_ONLY)
    def test_superuser_allowed(self, client_root, changelist):
        response = client_root.get(reverse(f"admin:{changelist}_changelist"))

        assert response.status_code == 200

    def test_index_hides_schedules_from_tenant_admin(self, client_b):
        response = client_b.get(reverse("admin:index"))

        app_labels = {app["app_label"] for app in response.context["app_list"]}
        assert app_labels == {"gimlet", "environments", "registries"}

    def test_every_admin_is_scoped_or_superuser_only(self):
        unscoped = [
            model._meta.label
            for model, model_admin in admin.site._registry.items()
            if not isinstance(model_admin, TenantScopedAdmin | SuperuserOnlyAdmin)
        ]

        assert unscoped == []


def test_user_is_never_created_by_tenant_admin(client_b):
    before = UserFactory._meta.model.objects.count()

    response = client_b.post(
        reverse("admin:auth_user_add"),
        {"username": "sneaky", "password1": "x" * 20, "password2": "x" * 20},
    )

    assert response.status_code == 403
    assert UserFactory._meta.model.objects.count() == before
