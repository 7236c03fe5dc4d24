"""Secrets in the admin: never rendered, kept when left blank, and never
decrypted to draw a list."""

from unittest import mock

import pytest
from django.urls import reverse

from registries import fields
from registries.models import Registry
from tests.admin.conftest import CANARY, CHECKS_INLINE, CUSTOM_TOKEN, GHCR_TOKEN
from tests.factories import certificate_pem, self_signed_ca

pytestmark = pytest.mark.django_db


def certificate_body(pem):
    """A stretch of the PEM's base64 body, long enough to be unique."""
    lines = [line for line in pem.splitlines() if not line.startswith("-----")]
    return lines[2]


def admin_pages(world):
    """Every admin page that shows something of `world`'s credentials."""
    registry_pages = []
    for registry in world.registries:
        for view in ("change", "history", "delete"):
            registry_pages.append(
                reverse(f"admin:registries_registry_{view}", args=[registry.pk])
            )
    return [
        reverse("admin:index"),
        reverse("admin_dashboard"),
        reverse("admin:registries_registry_changelist"),
        reverse("admin:registries_registry_changelist") + "?_facets=True",
        *registry_pages,
        reverse("admin:registries_check_changelist"),
        reverse("admin:registries_check_change", args=[world.check.pk]),
        reverse("admin:registries_alert_changelist"),
        reverse("admin:registries_alert_change", args=[world.alert.pk]),
        reverse("admin:environments_environment_changelist"),
        reverse("admin:environments_environment_change", args=[world.environment.pk]),
        reverse("admin:environments_environment_delete", args=[world.environment.pk]),
        reverse("admin:environments_imagesettings_changelist"),
        reverse(
            "admin:environments_imagesettings_change", args=[world.image_settings.pk]
        ),
        reverse("admin:environments_imagesettings_add")
        + f"?environment={world.environment.pk}",
        reverse("admin:gimlet_auditevent_changelist"),
        reverse("admin:gimlet_auditevent_change", args=[world.audit_event.pk]),
        reverse("admin:gimlet_tenant_change", args=[world.tenant.pk]),
        reverse("admin:autocomplete")
        + "?app_label=environments&model_name=imagesettings&field_name=registry",
    ]


def assert_no_secret(response, world):
    body = response.content.decode()
    assert CANARY not in body
    assert certificate_body(world.certificate) not in body


class TestCanary:
    def test_no_page_shows_a_secret_to_tenant_admin(self, client_b, world_b):
        for url in admin_pages(world_b):
            response = client_b.get(url)

            assert response.status_code == 200, url
            assert_no_secret(response, world_b)

    def test_no_page_shows_a_secret_to_superuser(self, client_root, world_b):
        for url in admin_pages(world_b):
            response = client_root.get(url)

            assert response.status_code == 200, url
            assert_no_secret(response, world_b)

    def test_bulk_delete_confirmation(self, client_b, world_b):
        response = client_b.post(
            reverse("admin:registries_registry_changelist"),
            {
                "action": "delete_selected",
                "_selected_action": [r.pk for r in world_b.registries],
            },
        )

        assert response.status_code == 200
        assert_no_secret(response, world_b)

    def test_rejected_token_is_not_echoed(self, client_b, world_b):
        url = reverse("admin:registries_registry_change", args=[world_b.ghcr.pk])

        response = client_b.post(
            url,
            {
                "name": "bravo-ghcr",
                "login": "octocat",
                "token": "github_pat_" + CANARY,
                **CHECKS_INLINE,
            },
        )

        assert response.status_code == 200
        assert "fine-grained" in response.content.decode()
        assert CANARY not in response.content.decode()

    def test_failed_add_does_not_echo_token(self, client_b, world_b):
        url = reverse("admin:registries_registry_add") + "?kind=ghcr"

        response = client_b.post(
            url,
            {
                "environment": world_b.environment.pk,
                "name": "new-ghcr",
                "login": "not a login",
                "token": GHCR_TOKEN,
            },
        )

        assert response.status_code == 200
        assert "GitHub user name" in response.content.decode()
        assert CANARY not in response.content.decode()

    def test_rejected_certificate_is_not_echoed(self, client_b, world_b):
        url = reverse("admin:registries_registry_change", args=[world_b.custom.pk])

        response = client_b.post(
            url,
            {
                "name": "bravo-custom",
                **CHECKS_INLINE,
                "url": world_b.custom.url,
                "login": "robot",
                "certificate": f"-----BEGIN CERTIFICATE-----\n{CANARY}\n",
            },
        )

        assert response.status_code == 200
        assert CANARY not in response.content.decode()
        world_b.custom.refresh_from_db()
        assert world_b.custom.certificate == world_b.certificate

    def test_audit_event_of_token_change_holds_no_token(self, client_b, world_b):
        new_token = "ghp_" + "N3wT0k" * 6
        url = reverse("admin:registries_registry_change", args=[world_b.ghcr.pk])
        client_b.post(
            url,
            {
                "name": "bravo-ghcr",
                "login": "octocat",
                "token": new_token,
                **CHECKS_INLINE,
            },
        )

        response = client_b.get(reverse("admin:gimlet_auditevent_changelist"))
        event = world_b.tenant.audit_events.order_by("-id").first()
        detail = client_b.get(
            reverse("admin:gimlet_auditevent_change", args=[event.pk])
        )

        assert event.changes["token"] == ["(set)", "(set)"]
        assert "N3wT0k" not in response.content.decode()
        assert "N3wT0k" not in detail.content.decode()


class TestBlankKeeps:
    def test_blank_token_keeps_stored_token(self, client_b, world_b):
        url = reverse("admin:registries_registry_change", args=[world_b.ghcr.pk])

        response = client_b.post(
            url,
            {"name": "ghcr-renamed", "login": "octocat", "token": "", **CHECKS_INLINE},
        )

        assert response.status_code == 302, response.content.decode()[:2000]
        world_b.ghcr.refresh_from_db()
        assert world_b.ghcr.name == "ghcr-renamed"
        assert world_b.ghcr.login == "octocat"
        assert world_b.ghcr.token == GHCR_TOKEN

    def test_blank_token_and_certificate_keep_both(self, client_b, world_b):
        url = reverse("admin:registries_registry_change", args=[world_b.custom.pk])

        response = client_b.post(
            url,
            {
                "name": "bravo-custom",
                **CHECKS_INLINE,
                "url": world_b.custom.url,
                "login": "robot-two",
                "token": "",
                "certificate": "",
            },
        )

        assert response.status_code == 302, response.content.decode()[:2000]
        world_b.custom.refresh_from_db()
        assert world_b.custom.login == "robot-two"
        assert world_b.custom.token == CUSTOM_TOKEN
        assert world_b.custom.certificate == world_b.certificate

    def test_new_token_replaces_stored_token(
        self, client_b, world_b, queued_checks, django_capture_on_commit_callbacks
    ):
        new_token = "ghp_" + "N3wT0k" * 6
        url = reverse("admin:registries_registry_change", args=[world_b.ghcr.pk])

        with django_capture_on_commit_callbacks(execute=True):
            response = client_b.post(
                url,
                {
                    "name": "bravo-ghcr",
                    "login": "octocat",
                    "token": f"  {new_token} ",
                    **CHECKS_INLINE,
                },
            )

        assert response.status_code == 302
        world_b.ghcr.refresh_from_db()
        assert world_b.ghcr.token == new_token
        assert world_b.ghcr.token_hint == "ghp_…wT0k"
        assert queued_checks == [(world_b.ghcr.pk, "save")]

    def test_new_certificate_replaces_stored_one(self, client_b, world_b):
        ca, _key = self_signed_ca("Bravo CA two", valid_days=90)
        url = reverse("admin:registries_registry_change", args=[world_b.custom.pk])

        response = client_b.post(
            url,
            {
                "name": "bravo-custom",
                **CHECKS_INLINE,
                "url": world_b.custom.url,
                "login": "bravo-robot",
                "certificate": certificate_pem(ca),
            },
        )

        assert response.status_code == 302, response.content.decode()[:2000]
        world_b.custom.refresh_from_db()
        assert world_b.custom.certificate_subject == "CN=Bravo CA two"
        assert world_b.custom.token == CUSTOM_TOKEN

    def test_clear_certificate_removes_it(self, client_b, world_b):
        url = reverse("admin:registries_registry_change", args=[world_b.custom.pk])

        response = client_b.post(
            url,
            {
                "name": "bravo-custom",
                **CHECKS_INLINE,
                "url": world_b.custom.url,
                "login": "bravo-robot",
                "clear_certificate": "on",
            },
        )

        assert response.status_code == 302, response.content.decode()[:2000]
        world_b.custom.refresh_from_db()
        assert world_b.custom.certificate is None
        assert world_b.custom.certificate_expires_at is None
        assert world_b.custom.token == CUSTOM_TOKEN

    def test_clear_and_new_certificate_conflict(self, client_b, world_b):
        ca, _key = self_signed_ca("Bravo CA two")
        url = reverse("admin:registries_registry_change", args=[world_b.custom.pk])

        response = client_b.post(
            url,
            {
                "name": "bravo-custom",
                **CHECKS_INLINE,
                "url": world_b.custom.url,
                "login": "bravo-robot",
                "certificate": certificate_pem(ca),
                "clear_certificate": "on",
            },
        )

        assert response.status_code == 200
        assert "not both" in response.content.decode()


class TestNoDecryption:
    @pytest.mark.parametrize(
        "changelist",
        [
            "registries_registry",
            "registries_check",
            "registries_alert",
            "environments_imagesettings",
            "environments_environment",
        ],
    )
    def test_list_decrypts_nothing(self, client_b, world_b, changelist):
        with mock.patch.object(fields, "decrypt", wraps=fields.decrypt) as decrypt:
            response = client_b.get(reverse(f"admin:{changelist}_changelist"))

        assert response.status_code == 200
        assert decrypt.call_count == 0

    def test_change_form_decrypts_nothing(self, client_b, world_b):
        url = reverse("admin:registries_registry_change", args=[world_b.custom.pk])

        with mock.patch.object(fields, "decrypt", wraps=fields.decrypt) as decrypt:
            response = client_b.get(url)

        assert response.status_code == 200
        assert decrypt.call_count == 0

    @pytest.mark.parametrize("view", ["environment", "dashboard"])
    def test_pages_decrypt_nothing(self, client_b, world_b, view):
        url = (
            reverse("admin_dashboard")
            if view == "dashboard"
            else reverse(
                "admin:environments_environment_change",
                args=[world_b.environment.pk],
            )
        )

        with mock.patch.object(fields, "decrypt", wraps=fields.decrypt) as decrypt:
            response = client_b.get(url)

        assert response.status_code == 200
        assert decrypt.call_count == 0

    def test_stored_secrets_still_decrypt(self, world_b):
        registry = Registry.objects.get(pk=world_b.ghcr.pk)

        assert registry.token == GHCR_TOKEN
