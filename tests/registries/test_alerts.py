"""Expiry and status-change alerts, sent through a real SMTP server."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from gimlet.models import Role
from registries import alerts
from registries.models import Alert, AlertKind, Status
from registries.services import registry_update
from tests.factories import MembershipFactory, RegistryFactory, github_token
from tests.smtp import SmtpServer

pytestmark = pytest.mark.django_db

EXPIRY = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=server.port,
        EMAIL_USE_TLS=False,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_TIMEOUT=5,
        GIMLET_BASE_URL="https://gimlet.example.test",
    ):
        yield server
    server.stop()


@pytest.fixture
def registry():
    registry = RegistryFactory(ghcr=True, login="octocat", expires_at=EXPIRY)
    MembershipFactory(
        tenant=registry.environment.tenant,
        role=Role.ADMIN,
        user__email="admin@tenant.test",
    )
    return registry


def run_at(moment):
    with time_machine.travel(moment, tick=False):
        return alerts.expiry_alerts_run()


def test_each_threshold_sends_one_email(smtp, registry):
    for days in (15, 14, 7, 3, 1, 0):
        run_at(EXPIRY - timedelta(days=days) + timedelta(minutes=1))
        run_at(EXPIRY - timedelta(days=days) + timedelta(minutes=2))

    thresholds = sorted(
        Alert.objects.filter(kind=AlertKind.TOKEN_EXPIRY).values_list(
            "threshold_days", flat=True
        )
    )
    assert thresholds == [0, 1, 3, 7, 14]
    assert len(smtp.messages) == 5


def test_skipped_thresholds_send_the_tightest(smtp, registry):
    run_at(EXPIRY - timedelta(days=15))
    run_at(EXPIRY - timedelta(days=2))

    rows = list(Alert.objects.values_list("threshold_days", flat=True))
    assert rows == [3]
    assert len(smtp.messages) == 1


def test_failed_send_is_retried_once(smtp, registry):
    smtp.stop()

    created, sent, failed = run_at(EXPIRY - timedelta(days=6))

    assert (created, sent, failed) == (1, 0, 1)
    alert = Alert.objects.get()
    assert alert.sent_at is None
    assert alert.attempts == 1
    assert "Connection" in alert.last_error or "refused" in alert.last_error

    smtp.start()
    run_at(EXPIRY - timedelta(days=6, hours=-1))
    run_at(EXPIRY - timedelta(days=6, hours=-2))

    assert len(smtp.messages) == 1
    assert Alert.objects.get().sent_at is not None


def test_replaced_token_rearms_alerts(smtp, registry):
    run_at(EXPIRY - timedelta(days=6))
    registry_update(registry=registry, actor=None, token=github_token())
    registry.refresh_from_db()
    registry.expires_at = EXPIRY
    registry.save()

    run_at(EXPIRY - timedelta(days=5))

    assert Alert.objects.filter(threshold_days=7).count() == 2
    assert len(smtp.messages) == 2


def test_certificate_expiry_is_alerted(smtp, registry):
    registry.certificate_expires_at = EXPIRY
    registry.certificate_fingerprint = "ab" * 32
    registry.expires_at = None
    type(registry).objects.filter(pk=registry.pk).update(
        certificate_expires_at=EXPIRY,
        certificate_fingerprint="ab" * 32,
        expires_at=None,
    )

    run_at(EXPIRY - timedelta(days=2))

    alert = Alert.objects.get()
    assert alert.kind == AlertKind.CERTIFICATE_EXPIRY
    assert (
        "CA certificate expires in 2 days"
        in smtp.messages[0]["message"].get_body(("plain",)).get_content()
    )


def test_digest_groups_a_tenant_into_one_email(smtp, registry):
    RegistryFactory(
        ghcr=True, environment=registry.environment, name="second", expires_at=EXPIRY
    )

    run_at(EXPIRY - timedelta(days=2))

    assert Alert.objects.count() == 2
    assert len(smtp.messages) == 1


def test_digest_goes_to_admins_and_extra_addresses(smtp, registry):
    tenant = registry.environment.tenant
    tenant.alert_emails = ["oncall@tenant.test"]
    tenant.save()
    MembershipFactory(tenant=tenant, role=Role.MEMBER, user__email="member@t.test")

    run_at(EXPIRY - timedelta(days=2))

    assert sorted(smtp.messages[0]["to"]) == ["admin@tenant.test", "oncall@tenant.test"]


def test_digest_content(smtp, registry):
    run_at(EXPIRY - timedelta(days=2, hours=1))

    message = smtp.messages[0]["message"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    link = (
        f"https://gimlet.example.test/admin/registries/registry/{registry.pk}/change/"
    )
    for body in (text, html):
        assert registry.environment.name in body
        assert "GitHub Container Registry" in body
        assert "octocat" in body
        assert registry.token_hint in body
        assert "2027-03-01 12:00" in body
        assert link in body
    assert "expires in 3 days" in text
    assert "<strong>3 days</strong>" in html
    assert registry.token not in smtp.messages[0]["raw"].decode()
    assert message["Subject"].startswith("[Gimlet] ")


@pytest.mark.parametrize(
    "new_status", [Status.INVALID, Status.EXPIRED, Status.INSUFFICIENT_SCOPE]
)
def test_valid_to_failing_records_one_alert(registry, new_status):
    valid_at = timezone.now()
    registry.status = new_status
    registry.save()

    first = alerts.status_change_alert_record(
        registry=registry, previous_status=Status.VALID, previous_valid_at=valid_at
    )
    again = alerts.status_change_alert_record(
        registry=registry, previous_status=Status.VALID, previous_valid_at=valid_at
    )

    assert first is not None
    assert again is None
    assert Alert.objects.filter(kind=AlertKind.STATUS_CHANGE).count() == 1


@pytest.mark.parametrize(
    "previous, new",
    [
        (Status.VALID, Status.UNREACHABLE),
        (Status.VALID, Status.TLS_ERROR),
        (Status.UNREACHABLE, Status.INVALID),
        (Status.INVALID, Status.INVALID),
    ],
)
def test_other_transitions_record_no_alert(registry, previous, new):
    registry.status = new
    registry.save()

    alert = alerts.status_change_alert_record(
        registry=registry, previous_status=previous, previous_valid_at=None
    )

    assert alert is None
    assert not Alert.objects.exists()


def test_status_change_email_names_the_status(smtp, registry):
    registry.status = Status.INVALID
    registry.status_message = "GitHub rejected the token (401)."
    registry.save()
    alerts.status_change_alert_record(
        registry=registry, previous_status=Status.VALID, previous_valid_at=None
    )

    alerts.send_pending_alerts()

    text = smtp.messages[0]["message"].get_body(("plain",)).get_content()
    assert "Stopped working" in text
    assert "Status: Invalid: GitHub rejected the token (401)." in text


@pytest.mark.parametrize(
    "remaining, expected",
    [
        (timedelta(days=20), None),
        (timedelta(days=14, seconds=1), None),
        (timedelta(days=14), 14),
        (timedelta(days=8), 14),
        (timedelta(days=6, hours=23), 7),
        (timedelta(days=2), 3),
        (timedelta(hours=5), 1),
        (timedelta(0), 0),
        (timedelta(days=-3), 0),
    ],
)
def test_tightest_threshold(remaining, expected):
    now = timezone.now()

    assert alerts.tightest_threshold(now + remaining, now, [14, 7, 3, 1]) == expected
