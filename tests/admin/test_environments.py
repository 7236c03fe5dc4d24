"""The environment admin with its registries inline, and image settings
whose registry choices are the environment's registries only."""

import pytest
from django.urls import reverse

from environments.models import Environment, ImageSettings
from gimlet.models import AuditAction, AuditEvent
from registries.models import Check, Registry
from tests.factories import EnvironmentFactory, RegistryFactory

pytestmark = pytest.mark.django_db

ADD = "admin:environments_imagesettings_add"


def environment_url(environment):
    return reverse("admin:environments_environment_change", args=[environment.pk])


class TestEnvironment:
    def test_registries_inline(self, client_b, world_b):
        response = client_b.get(environment_url(world_b.environment))

        formset = response.context["inline_admin_formsets"][0].formset
        assert {form.instance for form in formset.forms} == set(world_b.registries)
        body = response.content.decode()
        assert 'gimlet-badge-ok">Valid' in body
        assert "Token expires in 20 days" in body

    def test_inline_links_to_registries(self, client_b, world_b):
        response = client_b.get(environment_url(world_b.environment))

        change = reverse("admin:registries_registry_change", args=[world_b.ghcr.pk])
        assert change in response.content.decode()

    def test_add_registry_link(self, client_b, world_b):
        response = client_b.get(environment_url(world_b.environment))

        add = reverse("admin:registries_registry_add")
        assert (
            f"{add}?environment={world_b.environment.pk}" in response.content.decode()
        )

    def test_list_counts_registries(self, client_b, world_b):
        response = client_b.get(reverse("admin:environments_environment_changelist"))

        (environment,) = response.context["cl"].result_list
        assert environment.registry_total == len(world_b.registries)

    def test_add_is_audited(self, client_b, world_b):
        response = client_b.post(
            reverse("admin:environments_environment_add"),
            {
                "tenant": world_b.tenant.pk,
                "name": "bravo-staging",
                "registries-TOTAL_FORMS": "0",
                "registries-INITIAL_FORMS": "0",
            },
        )

        assert response.status_code == 302, response.content.decode()[-2000:]
        environment = Environment.objects.get(name="bravo-staging")
        assert AuditEvent.objects.filter(
            target_id=environment.pk,
            target_type="environments.environment",
            action=AuditAction.CREATE,
        ).exists()

    def test_name_must_be_dns_label(self, client_b, world_b):
        response = client_b.post(
            reverse("admin:environments_environment_add"),
            {
                "tenant": world_b.tenant.pk,
                "name": "Bravo Staging",
                "registries-TOTAL_FORMS": "0",
                "registries-INITIAL_FORMS": "0",
            },
        )

        assert response.status_code == 200
        assert "DNS label" in response.content.decode()

    def test_delete_removes_registries_and_checks(self, client_b, world_b):
        ImageSettings.objects.all().delete()
        url = reverse(
            "admin:environments_environment_delete", args=[world_b.environment.pk]
        )

        confirmation = client_b.get(url)
        response = client_b.post(url, {"post": "yes"})

        assert not confirmation.context["perms_lacking"]
        assert response.status_code == 302
        assert not Registry.objects.filter(environment=world_b.environment).exists()
        assert not Check.objects.filter(pk=world_b.check.pk).exists()
        assert AuditEvent.objects.filter(
            target_id=world_b.environment.pk, action=AuditAction.DELETE
        ).exists()

    def test_delete_confirmation_lists_own_rows_only(self, client_b, world_a, world_b):
        url = reverse(
            "admin:environments_environment_delete", args=[world_b.environment.pk]
        )

        response = client_b.get(url)

        body = response.content.decode()
        assert "bravo-ghcr" in body
        assert "acme" not in body.lower()


class TestImageSettings:
    def test_add_starts_with_environment(self, client_b, world_b):
        response = client_b.get(reverse(ADD))

        assert response.status_code == 200
        assert "adminform" not in response.context
        assert 'id="environment-choice"' in response.content.decode()

    def test_registry_choices_are_environment_registries(self, client_b, world_b):
        other = EnvironmentFactory(tenant=world_b.tenant, name="bravo-two")
        RegistryFactory(environment=other, name="other-builtin")

        response = client_b.get(reverse(ADD), {"environment": world_b.environment.pk})

        choices = response.context["adminform"].form.fields["registry"].queryset
        assert {registry.name for registry in choices} == {
            registry.name for registry in world_b.registries
        }

    def test_change_form_choices_follow_its_environment(self, client_b, world_b):
        other = EnvironmentFactory(tenant=world_b.tenant, name="bravo-two")
        RegistryFactory(environment=other, name="other-builtin")
        url = reverse(
            "admin:environments_imagesettings_change", args=[world_b.image_settings.pk]
        )

        response = client_b.get(url)

        choices = response.context["adminform"].form.fields["registry"].queryset
        assert "other-builtin" not in {registry.name for registry in choices}

    def test_add_in_chosen_environment(self, client_b, world_b):
        url = reverse(ADD) + f"?environment={world_b.environment.pk}"

        response = client_b.post(
            url,
            {
                "app": "bravo-web",
                "strategy": "buildpacks",
                "registry": world_b.dockerhub.pk,
                "repository": "",
                "tag": "v1",
            },
        )

        assert response.status_code == 302, response.content.decode()[-2000:]
        settings = ImageSettings.objects.get(app="bravo-web")
        assert settings.environment == world_b.environment
        assert settings.repository == "bravohub/bravo-web"
        assert AuditEvent.objects.filter(
            target_id=settings.pk, action=AuditAction.CREATE
        ).exists()

    def test_registry_of_other_environment_refused(self, client_b, world_b):
        other = EnvironmentFactory(tenant=world_b.tenant, name="bravo-two")
        elsewhere = RegistryFactory(environment=other, name="other-builtin")
        url = reverse(ADD) + f"?environment={world_b.environment.pk}"

        response = client_b.post(
            url,
            {
                "app": "bravo-web",
                "strategy": "static",
                "registry": elsewhere.pk,
                "tag": "v1",
            },
        )

        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
        assert not ImageSettings.objects.filter(app="bravo-web").exists()

    def test_registry_cannot_be_added_from_form(self, client_b, world_b):
        response = client_b.get(reverse(ADD), {"environment": world_b.environment.pk})

        widget = response.context["adminform"].form.fields["registry"].widget
        assert not widget.can_add_related

    def test_environment_is_read_only_when_changing(self, client_b, world_b):
        other = EnvironmentFactory(tenant=world_b.tenant, name="bravo-two")
        url = reverse(
            "admin:environments_imagesettings_change", args=[world_b.image_settings.pk]
        )

        client_b.post(
            url,
            {
                "environment": other.pk,
                "app": world_b.image_settings.app,
                "strategy": "static",
                "registry": world_b.ghcr.pk,
                "repository": world_b.image_settings.repository,
                "tag": "v2",
            },
        )

        world_b.image_settings.refresh_from_db()
        assert world_b.image_settings.environment == world_b.environment
        assert world_b.image_settings.tag == "v2"

    def test_registry_in_use_is_protected(self, client_b, world_b):
        url = reverse("admin:registries_registry_delete", args=[world_b.ghcr.pk])

        response = client_b.get(url)

        assert response.context["protected"]
        client_b.post(url, {"post": "yes"})
        assert Registry.objects.filter(pk=world_b.ghcr.pk).exists()
