"""The registry admin: kind-aware forms, list columns, filters, the "Check
now" action and button, the check history, and fixed query counts."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.admin.utils import flatten_fieldsets
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from gimlet.models import AuditAction, AuditEvent
from registries import admin_display
from registries.admin import CHECK_HISTORY_ROWS, CHECK_NOW_LIMIT
from registries.models import Check, Kind, Registry, Status, Trigger
from tests.admin.conftest import CHECKS_INLINE
from tests.admin.fakes import FakeGitHub
from tests.factories import EnvironmentFactory, RegistryFactory, github_token

pytestmark = pytest.mark.django_db

ADD = "admin:registries_registry_add"
CHANGELIST = "admin:registries_registry_changelist"
# Queries of one registry changelist page, whatever its length: session,
# user, tenant ids (middleware and admin), filter choices, counts, rows.
LIST_MAX_QUERIES = 12


def change_url(registry):
    return reverse("admin:registries_registry_change", args=[registry.pk])


def form_fields(response):
    return set(response.context["adminform"].form.fields)


def shown_fields(response):
    """Every field name the form page shows, editable or read-only."""
    return set(flatten_fieldsets(response.context["adminform"].fieldsets))


class TestKindChoice:
    def test_add_without_kind_offers_each_kind(self, client_b, world_b):
        response = client_b.get(reverse(ADD))

        assert response.status_code == 200
        kinds = [kind["value"] for kind in response.context["kinds"]]
        assert kinds == Kind.values
        assert "adminform" not in response.context

    def test_kind_links_keep_other_parameters(self, client_b, world_b):
        response = client_b.get(reverse(ADD), {"environment": world_b.environment.pk})

        urls = [kind["url"] for kind in response.context["kinds"]]
        assert f"?environment={world_b.environment.pk}&kind=ghcr" in urls

    def test_unknown_kind_is_named(self, client_b, world_b):
        response = client_b.get(reverse(ADD), {"kind": "quay"})

        assert "There is no registry kind “quay”" in response.content.decode()

    def test_member_may_not_add(self, client, world_b):
        client.force_login(world_b.member)

        response = client.get(reverse(ADD))

        assert response.status_code == 403

    def test_form_offers_way_back(self, client_b, world_b):
        response = client_b.get(
            reverse(ADD), {"kind": "ghcr", "environment": world_b.environment.pk}
        )

        assert response.context["kind_choice_url"] == (
            f"?environment={world_b.environment.pk}"
        )
        assert response.context["title"] == "Add GitHub Container Registry credential"


class TestKindForms:
    """Each kind's form shows the fields the kind takes and no others."""

    @pytest.mark.parametrize(
        ("kind", "editable"),
        [
            (Kind.BUILTIN, {"environment", "name", "url"}),
            (Kind.GHCR, {"environment", "name", "login", "token"}),
            (
                Kind.DOCKERHUB,
                {"environment", "name", "login", "token", "expires_at"},
            ),
            (
                Kind.CUSTOM,
                {
                    "environment",
                    "name",
                    "url",
                    "login",
                    "token",
                    "certificate",
                    "expires_at",
                },
            ),
        ],
    )
    def test_add_form_fields(self, client_b, world_b, kind, editable):
        response = client_b.get(reverse(ADD), {"kind": kind})

        assert form_fields(response) == editable

    @pytest.mark.parametrize(
        ("attribute", "editable"),
        [
            ("builtin", {"name", "url"}),
            ("ghcr", {"name", "login", "token"}),
            ("dockerhub", {"name", "login", "token", "expires_at"}),
            (
                "custom",
                {
                    "name",
                    "url",
                    "login",
                    "token",
                    "certificate",
                    "clear_certificate",
                    "expires_at",
                },
            ),
        ],
    )
    def test_change_form_fields(self, client_b, world_b, attribute, editable):
        response = client_b.get(change_url(getattr(world_b, attribute)))

        assert form_fields(response) == editable

    def test_fixed_url_is_read_only(self, client_b, world_b):
        response = client_b.get(reverse(ADD), {"kind": "ghcr"})

        assert "fixed_url" in shown_fields(response)
        assert "ghcr.io" in response.content.decode()

    def test_ghcr_expiry_is_read_only_with_countdown(self, client_b, world_b):
        response = client_b.get(change_url(world_b.ghcr))

        assert "expires_at" not in form_fields(response)
        assert "expires in 20 days" in response.content.decode()

    def test_kind_specific_labels(self, client_b, world_b):
        response = client_b.get(reverse(ADD), {"kind": "dockerhub"})

        form = response.context["adminform"].form
        assert form.fields["login"].label == "Docker ID"
        assert form.fields["login"].required
        assert form.fields["token"].required

    def test_change_form_token_is_optional(self, client_b, world_b):
        response = client_b.get(change_url(world_b.ghcr))

        token = response.context["adminform"].form.fields["token"]
        assert not token.required
        assert "Leave blank to keep" in token.help_text

    def test_builtin_url_defaults(self, client_b, world_b, settings):
        response = client_b.get(reverse(ADD), {"kind": "builtin"})

        url = response.context["adminform"].form.fields["url"]
        assert url.initial == settings.GIMLET_BUILTIN_REGISTRY_URL

    def test_no_history_inline_when_adding(self, client_b, world_b):
        response = client_b.get(reverse(ADD), {"kind": "ghcr"})

        assert response.context["inline_admin_formsets"] == []


class TestAdding:
    def test_add_ghcr(
        self, client_b, world_b, queued_checks, django_capture_on_commit_callbacks
    ):
        token = github_token()

        with django_capture_on_commit_callbacks(execute=True):
            response = client_b.post(
                reverse(ADD) + "?kind=ghcr",
                {
                    "environment": world_b.environment.pk,
                    "name": "new-ghcr",
                    "login": "octocat",
                    "token": token,
                },
            )

        assert response.status_code == 302, response.content.decode()[-3000:]
        registry = Registry.objects.get(name="new-ghcr")
        assert registry.kind == Kind.GHCR
        assert registry.url == "ghcr.io"
        assert registry.token == token
        assert queued_checks == [(registry.pk, Trigger.SAVE)]
        event = AuditEvent.objects.get(target_id=registry.pk, action=AuditAction.CREATE)
        assert event.actor == world_b.admin

    def test_add_dockerhub_with_expiry(self, client_b, world_b):
        response = client_b.post(
            reverse(ADD) + "?kind=dockerhub",
            {
                "environment": world_b.environment.pk,
                "name": "new-hub",
                "login": "dockeruser",
                "token": "dckr_pat_" + "x" * 27,
                "expires_at_0": "2031-01-05",
                "expires_at_1": "10:00:00",
            },
        )

        assert response.status_code == 302, response.content.decode()[-3000:]
        registry = Registry.objects.get(name="new-hub")
        assert registry.expires_at == datetime(2031, 1, 5, 10, tzinfo=UTC)
        assert registry.expires_at_source == "user"

    def test_add_reports_input_rule_on_its_field(self, client_b, world_b):
        response = client_b.post(
            reverse(ADD) + "?kind=custom",
            {
                "environment": world_b.environment.pk,
                "name": "new-custom",
                "url": "http://registry.example.test",
                "login": "robot",
                "token": "secret-token",
            },
        )

        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert "scheme must be https" in errors["url"][0]

    def test_missing_token_is_required(self, client_b, world_b):
        response = client_b.post(
            reverse(ADD) + "?kind=ghcr",
            {"environment": world_b.environment.pk, "login": "octocat"},
        )

        assert response.status_code == 200
        assert "token" in response.context["adminform"].form.errors

    def test_extra_secret_for_builtin_is_ignored(self, client_b, world_b):
        response = client_b.post(
            reverse(ADD) + "?kind=builtin",
            {
                "environment": world_b.environment.pk,
                "name": "new-builtin",
                "url": "",
                "token": "should-be-ignored",
            },
        )

        assert response.status_code == 302
        registry = Registry.objects.get(name="new-builtin")
        assert registry.token is None
        assert registry.url == "127.0.0.1:32447"

    @pytest.mark.parametrize("environment", ["abc", str(2**70), "-1", ""])
    def test_bad_environment_id_is_a_field_error(self, client_b, world_b, environment):
        response = client_b.post(
            reverse(ADD) + "?kind=builtin",
            {"environment": environment, "name": "new-builtin", "url": ""},
        )

        assert response.status_code == 200
        assert "environment" in response.context["adminform"].form.errors
        assert not Registry.objects.filter(name="new-builtin").exists()

    def test_environment_link_preselects_environment(self, client_b, world_b):
        response = client_b.get(
            reverse(ADD), {"kind": "ghcr", "environment": world_b.environment.pk}
        )

        form = response.context["adminform"].form
        assert form.initial["environment"] == str(world_b.environment.pk)


class TestChanging:
    def test_kind_never_changes(self, client_b, world_b):
        response = client_b.post(
            change_url(world_b.builtin),
            {"name": "bravo-builtin", "url": "", "kind": "custom", **CHECKS_INLINE},
        )

        assert response.status_code == 302
        world_b.builtin.refresh_from_db()
        assert world_b.builtin.kind == Kind.BUILTIN

    def test_environment_never_changes(self, client_b, world_b):
        other = EnvironmentFactory(tenant=world_b.tenant, name="bravo-two")

        client_b.post(
            change_url(world_b.builtin),
            {"name": "bravo-builtin", "environment": other.pk, **CHECKS_INLINE},
        )

        world_b.builtin.refresh_from_db()
        assert world_b.builtin.environment == world_b.environment

    def test_change_is_audited(self, client_b, world_b):
        client_b.post(
            change_url(world_b.ghcr),
            {"name": "bravo-ghcr-2", "login": "bravooctocat", **CHECKS_INLINE},
        )

        event = AuditEvent.objects.filter(action=AuditAction.UPDATE).get()
        assert event.changes == {"name": ["bravo-ghcr", "bravo-ghcr-2"]}
        assert event.actor == world_b.admin

    def test_bulk_delete_is_audited(self, client_b, world_b):
        registries = [world_b.dockerhub, world_b.custom]

        response = client_b.post(
            reverse(CHANGELIST),
            {
                "action": "delete_selected",
                "_selected_action": [registry.pk for registry in registries],
                "post": "yes",
            },
        )

        assert response.status_code == 302
        assert not Registry.objects.filter(pk__in=[r.pk for r in registries]).exists()
        deleted = AuditEvent.objects.filter(action=AuditAction.DELETE)
        assert {event.target_id for event in deleted} == {r.pk for r in registries}

    def test_delete_confirmation_needs_no_check_permission(self, client_b, world_b):
        url = reverse("admin:registries_registry_delete", args=[world_b.dockerhub.pk])

        response = client_b.get(url)

        assert response.status_code == 200
        assert not response.context["perms_lacking"]


class TestList:
    def test_columns(self, client_b, world_b):
        response = client_b.get(reverse(CHANGELIST))
        body = response.content.decode()

        assert '<span class="gimlet-badge gimlet-badge-ok">Valid</span>' in body
        assert '<span class="gimlet-badge gimlet-badge-error">Invalid</span>' in body
        assert "Token expires in 20 days" in body
        assert "CA certificate expires in 10 days" in body
        # timesince() joins number and unit with a no-break space.
        assert "5\xa0minutes ago</time>" in body
        assert "GitHub accepted the token of bravooctocat." in body
        assert world_b.ghcr.token_hint in body

    def test_expiring_badge(self, client_b, world_b):
        response = client_b.get(reverse(CHANGELIST), {"q": "bravo-custom"})

        assert 'gimlet-badge-warning">Expiring' in response.content.decode()

    def test_long_message_is_truncated(self, client_b, world_b):
        Registry.objects.filter(pk=world_b.ghcr.pk).update(status_message="word " * 60)

        response = client_b.get(reverse(CHANGELIST), {"q": "bravo-ghcr"})

        assert "word " * 30 not in response.content.decode().split("title=")[-1]

    @pytest.mark.parametrize(
        ("query", "names"),
        [
            ({"status__exact": "valid"}, {"bravo-ghcr"}),
            ({"status__exact": "unreachable"}, {"bravo-custom"}),
            ({"kind__exact": "dockerhub"}, {"bravo-hub"}),
            ({"expiring": "7"}, set()),
            ({"expiring": "14"}, {"bravo-custom"}),
            ({"expiring": "30"}, {"bravo-custom", "bravo-ghcr"}),
            ({"expiring": "99"}, set()),
        ],
    )
    def test_filters(self, client_b, world_b, query, names):
        response = client_b.get(reverse(CHANGELIST), query)

        assert {r.name for r in response.context["cl"].result_list} == names

    def test_expired_filter(self, client_b, world_b):
        Registry.objects.filter(pk=world_b.dockerhub.pk).update(
            expires_at=timezone.now() - timedelta(days=1)
        )

        response = client_b.get(reverse(CHANGELIST), {"expiring": "expired"})

        assert [r.name for r in response.context["cl"].result_list] == ["bravo-hub"]

    def test_environment_filter(self, client_b, world_b):
        other = EnvironmentFactory(tenant=world_b.tenant, name="bravo-two")
        RegistryFactory(environment=other, name="other-builtin")

        response = client_b.get(reverse(CHANGELIST), {"environment": other.pk})

        assert [r.name for r in response.context["cl"].result_list] == ["other-builtin"]

    def test_sorted_by_status(self, client_b, world_b):
        response = client_b.get(reverse(CHANGELIST), {"o": "5"})

        statuses = [r.status for r in response.context["cl"].result_list]
        assert statuses == sorted(statuses)

    @pytest.mark.parametrize("rows", [10, 100])
    def test_fixed_query_count(
        self, client_b, world_b, rows, django_assert_max_num_queries
    ):
        for number in range(rows - len(world_b.registries)):
            RegistryFactory(
                environment=EnvironmentFactory(tenant=world_b.tenant),
                ghcr=True,
                name=f"bulk-{number}",
                checked_at=timezone.now(),
                status=Status.VALID,
                expires_at=timezone.now() + timedelta(days=3),
            )

        with django_assert_max_num_queries(LIST_MAX_QUERIES):
            response = client_b.get(reverse(CHANGELIST))

        assert response.context["cl"].result_count == rows

    @pytest.mark.parametrize(
        "changelist",
        [
            "registries_registry",
            "registries_check",
            "registries_alert",
            "environments_environment",
            "environments_imagesettings",
            "gimlet_auditevent",
            "gimlet_membership",
            "gimlet_tenant",
        ],
    )
    def test_query_count_independent_of_rows(self, client_b, world_b, changelist):
        url = reverse(f"admin:{changelist}_changelist")

        counts = []
        for _batch in range(2):
            with CaptureQueriesContext(connection) as queries:
                client_b.get(url)
            counts.append(len(queries))
            add_rows(world_b, 40)

        assert counts[0] == counts[1]


def add_rows(world, count):
    """Add `count` rows of each model that a changelist shows."""
    from environments.models import ImageSettings
    from gimlet.models import Membership
    from registries.models import Alert
    from tests.factories import MembershipFactory

    for number in range(count):
        environment = EnvironmentFactory(tenant=world.tenant)
        registry = RegistryFactory(environment=environment, ghcr=True)
        Check.objects.create(registry=registry, status=Status.VALID, trigger="save")
        Alert.objects.create(
            registry=registry, kind="token_expiry", threshold_days=7, fingerprint="f"
        )
        ImageSettings.objects.create(
            environment=environment, app=f"app-{number}", registry=registry
        )
        AuditEvent.objects.create(
            tenant=world.tenant,
            actor=world.admin,
            action=AuditAction.CHECK,
            target_type="registries.registry",
            target_id=registry.pk,
            target_repr=str(registry),
        )
        MembershipFactory(tenant=world.tenant)
    assert Membership.objects.filter(tenant=world.tenant).count() >= count


class TestCountdown:
    NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("delta", "text"),
        [
            (timedelta(days=20), "expires in 20 days"),
            (timedelta(days=19, hours=12), "expires in 20 days"),
            (timedelta(days=1), "expires in 1 day"),
            (timedelta(hours=5, minutes=10), "expires in 6 hours"),
            (timedelta(minutes=20), "expires in 1 hour"),
            (timedelta(0), "expired today"),
            (-timedelta(hours=3), "expired today"),
            (-timedelta(days=1), "expired 1 day ago"),
            (-timedelta(days=3, hours=2), "expired 3 days ago"),
        ],
    )
    def test_text(self, delta, text):
        assert admin_display.countdown(self.NOW + delta, self.NOW) == text

    @pytest.mark.parametrize(
        ("delta", "tone"),
        [
            (timedelta(days=20), "later"),
            (timedelta(days=14), "soon"),
            (timedelta(hours=1), "soon"),
            (-timedelta(hours=1), "past"),
        ],
    )
    def test_tone(self, delta, tone):
        assert admin_display.expiry_tone(self.NOW + delta, self.NOW) == tone

    def test_no_expiry_from_github(self, world_b):
        Registry.objects.filter(pk=world_b.ghcr.pk).update(expires_at=None)
        registry = Registry.objects.get(pk=world_b.ghcr.pk)

        assert admin_display.token_expiry(registry) == "Token has no expiry date"

    @pytest.mark.parametrize("status", Status.values)
    def test_every_status_has_a_badge_tone(self, status):
        badge = admin_display.status_badge(status)

        assert Status(status).label in badge
        assert "gimlet-badge-neutral" not in badge or status == Status.UNCHECKED


@pytest.fixture
def github(settings):
    token = "ghp_" + "CheckNow12" * 3 + "abcdef"
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=40)
    with FakeGitHub(token=token, expires_at=expires_at) as server:
        settings.GIMLET_GITHUB_API_URL = server.url
        settings.GIMLET_GHCR_URL = server.url
        server.token_value = token
        yield server


@pytest.fixture
def checkable(world_b, github):
    """B's GHCR credential with the token the fake GitHub accepts."""
    registry = Registry.objects.get(pk=world_b.ghcr.pk)
    registry.token = github.token_value
    registry.login = "octocat"
    registry.status = Status.UNCHECKED
    registry.save()
    return registry


class TestCheckNow:
    def test_action_checks_and_reports(self, client_b, checkable, github):
        response = client_b.post(
            reverse(CHANGELIST),
            {"action": "check_now", "_selected_action": [checkable.pk]},
            follow=True,
        )

        messages = [str(message) for message in response.context["messages"]]
        assert messages[0].startswith(
            "Checked bravo-ghcr in bravo-tenant/bravo-env: Valid."
        )
        assert github.user_calls() == 1
        checkable.refresh_from_db()
        assert checkable.status == Status.VALID
        assert checkable.expires_at == github.expires_at
        check = checkable.checks.order_by("-created_at", "-id").first()
        assert check.trigger == Trigger.MANUAL
        assert check.status == Status.VALID

    def test_action_audits_actor(self, client_b, checkable, world_b):
        client_b.post(
            reverse(CHANGELIST),
            {"action": "check_now", "_selected_action": [checkable.pk]},
        )

        event = AuditEvent.objects.get(action=AuditAction.CHECK)
        assert event.actor == world_b.admin
        assert event.changes == {"status": ["unchecked", "valid"]}

    def test_rejected_token_reports_error(self, client_b, checkable, github):
        github.token = "ghp_" + "z" * 36

        response = client_b.post(
            reverse(CHANGELIST),
            {"action": "check_now", "_selected_action": [checkable.pk]},
            follow=True,
        )

        message = next(iter(response.context["messages"]))
        assert message.level_tag == "error"
        assert "Invalid." in str(message)

    def test_list_shows_new_status(self, client_b, checkable):
        client_b.post(
            reverse(CHANGELIST),
            {"action": "check_now", "_selected_action": [checkable.pk]},
        )

        response = client_b.get(reverse(CHANGELIST), {"q": "bravo-ghcr"})

        body = response.content.decode()
        assert 'gimlet-badge-ok">Valid' in body
        assert "Token expires in 40 days" in body

    def test_running_check_is_skipped(self, client_b, checkable, github):
        from django.core.cache import cache

        from registries.checking import lock_key

        cache.add(lock_key(checkable.pk), "other", timeout=60)

        response = client_b.post(
            reverse(CHANGELIST),
            {"action": "check_now", "_selected_action": [checkable.pk]},
            follow=True,
        )

        assert "Skipped bravo-ghcr" in str(next(iter(response.context["messages"])))
        assert github.user_calls() == 0

    def test_failing_check_reports_and_continues(
        self, client_b, checkable, world_b, monkeypatch
    ):
        def explode(**kwargs):
            if kwargs["registry_id"] == checkable.pk:
                raise RuntimeError("boom")
            return Check(
                registry=world_b.builtin, status=Status.UNCHECKED, message="ok"
            )

        monkeypatch.setattr("registries.admin.registry_check", explode)

        response = client_b.post(
            reverse(CHANGELIST),
            {
                "action": "check_now",
                "_selected_action": [checkable.pk, world_b.builtin.pk],
            },
            follow=True,
        )

        messages = [str(message) for message in response.context["messages"]]
        assert any(m.startswith("Could not check bravo-ghcr") for m in messages)
        assert any(m.startswith("Checked bravo-builtin") for m in messages)
        assert "boom" not in " ".join(messages)

    def test_large_selection_is_queued(
        self, client_b, world_b, queued_checks, django_capture_on_commit_callbacks
    ):
        extra = [
            RegistryFactory(environment=world_b.environment, name=f"extra-{n}")
            for n in range(CHECK_NOW_LIMIT)
        ]
        selected = [*extra, world_b.builtin]

        with django_capture_on_commit_callbacks(execute=True):
            response = client_b.post(
                reverse(CHANGELIST),
                {"action": "check_now", "_selected_action": [r.pk for r in selected]},
                follow=True,
            )

        assert sorted(queued_checks) == sorted(
            (r.pk, "manual", world_b.admin.pk) for r in selected
        )
        assert "Queued checks of 6 credentials" in str(
            next(iter(response.context["messages"]))
        )

    def test_button_checks_one(self, client_b, checkable, github):
        url = reverse("admin:registries_registry_check", args=[checkable.pk])

        response = client_b.post(url)

        assert response.status_code == 302
        assert response.url == change_url(checkable)
        assert github.user_calls() == 1

    def test_button_needs_post(self, client_b, checkable, github):
        url = reverse("admin:registries_registry_check", args=[checkable.pk])

        response = client_b.get(url)

        assert response.status_code == 405
        assert github.user_calls() == 0

    def test_button_shown_on_change_form(self, client_b, checkable):
        response = client_b.get(change_url(checkable))

        assert 'id="check-now"' in response.content.decode()

    def test_button_needs_csrf_token(self, checkable, world_b, github):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(world_b.admin)

        response = client.post(
            reverse("admin:registries_registry_check", args=[checkable.pk])
        )

        assert response.status_code == 403
        assert github.user_calls() == 0


class TestHistory:
    def test_inline_shows_latest_checks(self, client_b, world_b):
        start = timezone.now() - timedelta(days=1)
        for minute in range(CHECK_HISTORY_ROWS + 5):
            Check.objects.create(
                registry=world_b.builtin,
                status=Status.UNCHECKED,
                message=f"check number {minute}",
                trigger=Trigger.SCHEDULE,
                created_at=start + timedelta(minutes=minute),
            )

        response = client_b.get(change_url(world_b.builtin))

        formset = response.context["inline_admin_formsets"][0].formset
        messages = [form.instance.message for form in formset.forms]
        assert len(messages) == CHECK_HISTORY_ROWS
        assert messages[0] == f"check number {CHECK_HISTORY_ROWS + 4}"

    def test_inline_is_read_only(self, client_b, world_b):
        response = client_b.get(change_url(world_b.ghcr))

        inline = response.context["inline_admin_formsets"][0]
        assert not inline.has_add_permission
        assert not inline.has_change_permission
        assert not inline.has_delete_permission

    def test_history_link_lists_checks_of_one_registry(self, client_b, world_b):
        url = reverse("admin:registries_check_changelist")

        response = client_b.get(url, {"registry__id__exact": world_b.ghcr.pk})

        assert list(response.context["cl"].result_list) == [world_b.check]

    def test_check_admin_is_read_only(self, client_b, world_b):
        url = reverse("admin:registries_check_change", args=[world_b.check.pk])

        response = client_b.post(url, {"status": "invalid"})

        assert response.status_code == 403
        world_b.check.refresh_from_db()
        assert world_b.check.status == Status.VALID


@time_machine.travel(datetime(2026, 6, 1, 12, 0, tzinfo=UTC), tick=False)
def test_checked_just_now(world_b):
    registry = Registry.objects.get(pk=world_b.ghcr.pk)
    registry.checked_at = timezone.now() - timedelta(seconds=20)

    assert "checked <time" in admin_display.last_check(registry)
    assert "just now" in admin_display.last_check(registry)
