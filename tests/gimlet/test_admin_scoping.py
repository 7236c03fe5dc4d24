"""The admin as seen by a staff user who administers tenant B only."""

import pytest
from django.urls import reverse

from environments.models import Environment, ImageSettings
from gimlet.models import AuditEvent, Membership, Role
from registries.models import Check, Kind, Registry
from registries.services import registry_create
from tests.factories import (
    EnvironmentFactory,
    MembershipFactory,
    RegistryFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "gimlet_tenant",
    "gimlet_membership",
    "gimlet_auditevent",
    "environments_environment",
    "environments_imagesettings",
    "registries_registry",
    "registries_alert",
]


@pytest.fixture
def tenant_a_registry():
    registry = RegistryFactory(
        ghcr=True, environment__name="alpha-secret-env", name="alpha-secret-reg"
    )
    Check.objects.create(registry=registry, status="valid", trigger="manual")
    ImageSettings.objects.create(
        environment=registry.environment, app="alpha-app", registry=registry
    )
    AuditEvent.objects.create(
        tenant=registry.environment.tenant,
        action="create",
        target_type="registries.registry",
        target_id=registry.pk,
        target_repr="alpha-secret-reg",
    )
    return registry


@pytest.fixture
def staff_b(client):
    membership = MembershipFactory(
        role=Role.ADMIN, user__is_staff=True, tenant__name="Bravo"
    )
    EnvironmentFactory(tenant=membership.tenant, name="bravo-env")
    client.force_login(membership.user)
    client.membership = membership
    return client


@pytest.mark.parametrize("changelist", CHANGELISTS)
def test_changelist_hides_other_tenant(staff_b, tenant_a_registry, changelist):
    response = staff_b.get(reverse(f"admin:{changelist}_changelist"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "alpha-secret" not in html
    assert tenant_a_registry.environment.tenant.slug not in html


def test_search_hides_other_tenant(staff_b, tenant_a_registry):
    url = reverse("admin:registries_registry_changelist")

    response = staff_b.get(url, {"q": "alpha"})

    assert "alpha-secret-reg" not in response.content.decode()


def test_change_view_of_other_tenant_redirects(staff_b, tenant_a_registry):
    url = reverse("admin:registries_registry_change", args=[tenant_a_registry.pk])

    response = staff_b.get(url)

    assert response.status_code == 302
    assert "alpha-secret" not in response.content.decode()


def test_history_of_other_tenant_is_hidden(staff_b, tenant_a_registry):
    url = reverse("admin:registries_registry_history", args=[tenant_a_registry.pk])

    response = staff_b.get(url)

    assert response.status_code in {302, 404}


def test_add_form_lists_own_environments_only(staff_b, tenant_a_registry):
    response = staff_b.get(reverse("admin:registries_registry_add"))

    html = response.content.decode()
    assert "bravo-env" in html
    assert "alpha-secret-env" not in html


def test_post_with_other_tenant_environment_is_refused(staff_b, tenant_a_registry):
    before = Registry.objects.count()

    response = staff_b.post(
        reverse("admin:registries_registry_add"),
        {
            "environment": tenant_a_registry.environment_id,
            "kind": Kind.BUILTIN,
            "name": "sneaky",
            "url": "127.0.0.1:32447",
            "checks-TOTAL_FORMS": "0",
            "checks-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Registry.objects.count() == before


def test_delete_of_other_tenant_is_refused(staff_b, tenant_a_registry):
    url = reverse("admin:registries_registry_delete", args=[tenant_a_registry.pk])

    staff_b.post(url, {"post": "yes"})

    assert Registry.objects.filter(pk=tenant_a_registry.pk).exists()


def test_member_role_sees_no_admin_models(client, tenant_a_registry):
    membership = MembershipFactory(role=Role.MEMBER, user__is_staff=True)
    client.force_login(membership.user)

    response = client.get(reverse("admin:registries_registry_changelist"))

    assert response.status_code == 403


def test_superuser_sees_every_tenant(client, tenant_a_registry):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.get(reverse("admin:registries_registry_changelist"))

    assert "alpha-secret-reg" in response.content.decode()


def test_membership_user_choices_are_tenant_members(staff_b, tenant_a_registry):
    outsider = MembershipFactory(tenant=tenant_a_registry.environment.tenant)
    url = reverse("admin:gimlet_membership_add")

    response = staff_b.get(url)

    assert outsider.user.username not in response.content.decode()


class TestRegistrySecrets:
    """Secrets in the admin: never rendered, kept when left blank."""

    @pytest.fixture
    def registry(self, staff_b):
        environment = Environment.objects.get(name="bravo-env")
        return registry_create(
            environment=environment,
            actor=None,
            kind=Kind.GHCR,
            login="octocat",
            token="ghp_" + "C4n4ry" * 6,
        )

    def test_change_form_never_renders_token(self, staff_b, registry):
        url = reverse("admin:registries_registry_change", args=[registry.pk])

        response = staff_b.get(url)

        assert response.status_code == 200
        assert "C4n4ry" not in response.content.decode()

    def test_changelist_never_renders_token(self, staff_b, registry):
        response = staff_b.get(reverse("admin:registries_registry_changelist"))

        html = response.content.decode()
        assert "C4n4ry" not in html
        assert registry.token_hint in html

    def test_blank_token_keeps_stored_token(self, staff_b, registry):
        url = reverse("admin:registries_registry_change", args=[registry.pk])

        response = staff_b.post(
            url,
            {
                "name": "ghcr-renamed",
                "login": "octocat",
                "token": "",
                "certificate": "",
                "checks-TOTAL_FORMS": "0",
                "checks-INITIAL_FORMS": "0",
            },
        )

        assert response.status_code == 302, response.content.decode()[:2000]
        registry.refresh_from_db()
        assert registry.name == "ghcr-renamed"
        assert registry.token == "ghp_" + "C4n4ry" * 6

    def test_invalid_token_error_hides_submitted_value(self, staff_b, registry):
        url = reverse("admin:registries_registry_change", args=[registry.pk])

        response = staff_b.post(
            url,
            {
                "name": "ghcr",
                "login": "octocat",
                "token": "github_pat_C4n4ryC4n4ryC4n4ry",
                "checks-TOTAL_FORMS": "0",
                "checks-INITIAL_FORMS": "0",
            },
        )

        html = response.content.decode()
        assert response.status_code == 200
        assert "fine-grained" in html
        assert "C4n4ry" not in html
        assert Membership.objects.exists()
