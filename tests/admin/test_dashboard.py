"""The admin dashboard: credentials by status per tenant, and the timeline
of token and CA certificate expiries in the next 30 days."""

import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from gimlet import dashboard
from registries.models import Registry, Status
from tests.factories import EnvironmentFactory, RegistryFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "admin_dashboard"


def tenant_rows(response):
    return {row["tenant"].slug: row for row in response.context["tenants"]}


def counts(row):
    return {item["status"]: item["count"] for item in row["statuses"]}


def labels(response):
    rows = response.context["timeline"].rows
    return [f"{row.expiry.label} · {row.expiry.subject}" for row in rows]


class TestAccess:
    def test_staff_tenant_admin(self, client_b):
        response = client_b.get(reverse(URL))

        assert response.status_code == 200
        assert response.context["title"] == "Dashboard"

    def test_member_role_refused(self, client, world_b):
        client.force_login(world_b.member)

        response = client.get(reverse(URL))

        assert response.status_code == 403

    def test_anonymous_sent_to_login(self, client):
        response = client.get(reverse(URL))

        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))

    def test_non_staff_sent_to_login(self, client, world_b):
        user = UserFactory(is_staff=False)
        world_b.tenant.memberships.create(user=user, role="admin")
        client.force_login(user)

        response = client.get(reverse(URL))

        assert response.status_code == 302

    def test_linked_from_index_and_every_page(self, client_b):
        index = client_b.get(reverse("admin:index"))
        changelist = client_b.get(reverse("admin:registries_registry_changelist"))

        link = f'href="{reverse(URL)}"'
        assert link in index.content.decode()
        assert link in changelist.content.decode()


class TestStatusCounts:
    def test_own_tenant_only(self, client_b, world_a, world_b):
        response = client_b.get(reverse(URL))

        assert list(tenant_rows(response)) == ["bravo-tenant"]
        assert "acme" not in response.content.decode().lower()

    def test_counts_by_status(self, client_b, world_b):
        response = client_b.get(reverse(URL))

        row = tenant_rows(response)["bravo-tenant"]
        assert row["total"] == 4
        assert counts(row) == {
            **dict.fromkeys(Status.values, 0),
            "unchecked": 1,
            "valid": 1,
            "invalid": 1,
            "unreachable": 1,
        }
        assert row["attention"] == 1
        assert row["expiring"] == 1

    def test_totals(self, client_b, world_b):
        response = client_b.get(reverse(URL))

        assert response.context["totals"] == {
            "credentials": 4,
            "attention": 1,
            "unreachable": 1,
            "expiring": 2,
        }

    def test_superuser_sees_every_tenant(self, client_root, world_a, world_b):
        response = client_root.get(reverse(URL))

        rows = tenant_rows(response)
        assert set(rows) == {"acme-tenant", "bravo-tenant"}
        assert rows["acme-tenant"]["total"] == 4

    def test_tenant_without_credentials(self, client_root, world_b):
        from tests.factories import TenantFactory

        TenantFactory(slug="empty", name="Empty")

        response = client_root.get(reverse(URL))

        row = tenant_rows(response)["empty"]
        assert row["total"] == 0
        assert row["segments"] == []
        assert "No credentials" in response.content.decode()

    def test_count_links_filter_the_list(self, client_b, world_b):
        response = client_b.get(reverse(URL))
        row = tenant_rows(response)["bravo-tenant"]
        valid = next(item for item in row["statuses"] if item["status"] == "valid")

        listed = client_b.get(valid["url"])

        assert [r.name for r in listed.context["cl"].result_list] == ["bravo-ghcr"]

    def test_bar_segments_fill_the_bar(self, client_b, world_b):
        response = client_b.get(reverse(URL))

        segments = tenant_rows(response)["bravo-tenant"]["segments"]
        assert [segment["status"] for segment in segments] == [
            "unchecked",
            "valid",
            "invalid",
            "unreachable",
        ]
        assert sum(segment["width"] for segment in segments) == pytest.approx(200)
        assert segments[1]["x"] == pytest.approx(50)


class TestTimeline:
    def test_expiries_in_order(self, client_b, world_b):
        response = client_b.get(reverse(URL))

        assert labels(response) == [
            "bravo-tenant/bravo-env/bravo-custom · CA certificate",
            "bravo-tenant/bravo-env/bravo-ghcr · Token",
        ]
        rows = response.context["timeline"].rows
        assert rows[0].countdown == "in 10 days"
        assert rows[1].countdown == "in 20 days"
        assert rows[0].x < rows[1].x
        assert rows[0].y < rows[1].y

    def test_long_labels_are_truncated(self, client_b, world_b):
        Registry.objects.filter(pk=world_b.ghcr.pk).update(name="x" * 63)

        response = client_b.get(reverse(URL))

        label = response.context["timeline"].rows[1].label
        assert len(label) == dashboard.LABEL_CHARS
        assert label.endswith("…")

    def test_markers(self, client_b, world_b):
        response = client_b.get(reverse(URL))

        certificate, token = response.context["timeline"].rows
        assert not certificate.is_token
        assert token.is_token
        assert certificate.tone == "caution"
        assert token.tone == "info"

    def test_marker_position_is_proportional(self, client_b, world_b):
        response = client_b.get(reverse(URL))

        timeline = response.context["timeline"]
        span = timeline.plot_right - timeline.plot_left
        token = timeline.rows[1]
        assert token.x == pytest.approx(timeline.plot_left + span * 20 / 30, abs=1)

    def test_window_of_30_days(self, client_b, world_b):
        now = timezone.now()
        environment = world_b.environment
        RegistryFactory(
            environment=environment,
            dockerhub=True,
            name="in-29",
            expires_at=now + timedelta(days=29),
        )
        RegistryFactory(
            environment=environment,
            dockerhub=True,
            name="in-31",
            expires_at=now + timedelta(days=31),
        )
        RegistryFactory(
            environment=environment,
            dockerhub=True,
            name="past",
            expires_at=now - timedelta(days=1),
        )

        response = client_b.get(reverse(URL))

        names = [row.expiry.name for row in response.context["timeline"].rows]
        assert "in-29" in names
        assert "in-31" not in names
        assert "past" not in names

    @pytest.mark.parametrize(
        ("days", "tone"),
        [(2, "error"), (5, "warning"), (12, "caution"), (25, "info")],
    )
    def test_urgency_tones(self, days, tone):
        now = timezone.now()

        assert dashboard.urgency_tone(now + timedelta(days=days), now) == tone

    def test_svg_is_drawn_in_the_page(self, client_b, world_b):
        response = client_b.get(reverse(URL))

        body = response.content.decode()
        svg = body[
            body.index('<svg id="expiry-timeline"') : body.index(
                "</svg>", body.index('<svg id="expiry-timeline"')
            )
        ]
        assert "<circle" in svg
        assert "<polygon" in svg
        assert "in 10 days" in svg
        assert "Today" in svg
        assert 'href="/admin/registries/registry/' in svg

    def test_no_external_resources(self, client_b, world_b):
        response = client_b.get(reverse(URL))

        body = response.content.decode()
        external = re.findall(r'(?:src|href)="(?:https?:)?//[^"]*"', body)
        assert external == []
        assert "<script" not in body.split('<div id="content-main"')[1]

    def test_list_under_timeline(self, client_b, world_b):
        response = client_b.get(reverse(URL))

        body = response.content.decode()
        expiry_list = body[body.index('<table id="expiry-list">') :]
        assert "bravo-tenant/bravo-env/bravo-custom" in expiry_list
        assert 'gimlet-badge-unknown">Unreachable' in expiry_list

    def test_rows_beyond_limit_are_counted(self, client_b, world_b, monkeypatch):
        monkeypatch.setattr(dashboard, "TIMELINE_MAX_ROWS", 1)

        response = client_b.get(reverse(URL))

        assert len(response.context["timeline"].rows) == 1
        assert response.context["expiry_hidden"] == 1
        assert "1 more expiry" in response.content.decode()

    def test_nothing_expiring(self, client_b, world_b):
        Registry.objects.update(expires_at=None)
        Registry.objects.filter(certificate_expires_at__isnull=False).update(
            certificate_expires_at=timezone.now() + timedelta(days=90)
        )

        response = client_b.get(reverse(URL))

        assert response.context["timeline"] is None
        assert "No token or CA certificate expires" in response.content.decode()


class TestQueries:
    @pytest.mark.parametrize("rows", [10, 100])
    def test_fixed_query_count(
        self, client_b, world_b, rows, django_assert_max_num_queries
    ):
        for number in range(rows - len(world_b.registries)):
            RegistryFactory(
                environment=EnvironmentFactory(tenant=world_b.tenant),
                dockerhub=True,
                name=f"bulk-{number}",
                expires_at=timezone.now() + timedelta(days=1 + number % 29),
            )

        with django_assert_max_num_queries(12):
            response = client_b.get(reverse(URL))

        assert tenant_rows(response)["bravo-tenant"]["total"] == rows

    def test_query_count_independent_of_rows(self, client_b, world_b):
        measured = []
        for _batch in range(2):
            with CaptureQueriesContext(connection) as queries:
                client_b.get(reverse(URL))
            measured.append(len(queries))
            for number in range(30):
                RegistryFactory(
                    environment=world_b.environment,
                    dockerhub=True,
                    name=f"more-{_batch}-{number}",
                    expires_at=timezone.now() + timedelta(days=5),
                )

        assert measured[0] == measured[1]


class TestDemoData:
    """seed_demo's custom registry: a CA expiring in 10 days, a token in 20."""

    @pytest.fixture
    def demo_client(self, client, monkeypatch):
        monkeypatch.setenv("GIMLET_DEMO_ADMIN_PASSWORD", "demo-root-password-1")
        monkeypatch.setenv("GIMLET_DEMO_TENANT_ADMIN_PASSWORD", "demo-admin-password-1")
        call_command("seed_demo", stdout=io.StringIO())
        client.force_login(get_user_model().objects.get(username="demo-admin"))
        return client

    def test_counts(self, demo_client):
        response = demo_client.get(reverse(URL))

        row = tenant_rows(response)["demo"]
        assert row["total"] == 3
        assert counts(row)["unchecked"] == 3
        assert row["expiring"] == 1

    def test_timeline(self, demo_client):
        response = demo_client.get(reverse(URL))

        rows = response.context["timeline"].rows
        assert [(row.label, row.countdown) for row in rows] == [
            ("demo/staging/demo-custom · CA certificate", "in 10 days"),
            ("demo/staging/demo-custom · Token", "in 20 days"),
        ]
        assert rows[0].tone == "caution"
