"""GET /metrics: values computed from seeded credentials, checks, alerts
and sweep state, and no secret in any label or value.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from cryptography.fernet import Fernet
from django.core.cache import cache

from registries.models import Alert, AlertKind, Check, Registry, Status, Trigger
from registries.sweep import SWEEP_LOCK_KEY
from tests.factories import (
    EnvironmentFactory,
    RegistryFactory,
    TenantFactory,
    certificate_pem,
    self_signed_ca,
)
from tests.ops.conftest import parse_samples, sample

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 3, 1, 12, 0, 0, tzinfo=UTC)
DAY = 86400
MARKER = "CANARY"
SWEEP_KEYS = ["gimlet:sweep:last_duration", "gimlet:sweep:last_finished"]


def canary_github_token():
    return "ghp_" + MARKER + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"


def canary_dockerhub_token(suffix):
    return f"dckr_pat_{MARKER}{suffix}x7Yz0123456789abcdef"


@pytest.fixture
def sweep_cache():
    cache.delete_many([*SWEEP_KEYS, SWEEP_LOCK_KEY])
    yield
    cache.delete_many([*SWEEP_KEYS, SWEEP_LOCK_KEY])


@pytest.fixture
def seeded(settings, sweep_cache):
    """Two tenants' credentials in several states, with checks and alerts."""
    settings.GIMLET_METRICS_CHECK_WINDOW_MINUTES = 60
    with time_machine.travel(NOW, tick=False):
        acme = TenantFactory(slug="acme")
        globex = TenantFactory(slug="globex")
        production = EnvironmentFactory(tenant=acme, name="production")
        staging = EnvironmentFactory(tenant=globex, name="staging")
        certificate, _ = self_signed_ca(valid_days=30)

        registries = {
            "ghcr_valid": RegistryFactory(
                ghcr=True,
                environment=production,
                name="ghcr-valid",
                token=canary_github_token(),
                status=Status.VALID,
                expires_at=NOW + timedelta(days=3),
            ),
            "ghcr_invalid": RegistryFactory(
                ghcr=True,
                environment=production,
                name="ghcr-invalid",
                token=canary_github_token().replace("A1", "Z9"),
                status=Status.INVALID,
            ),
            "dockerhub_expired": RegistryFactory(
                dockerhub=True,
                environment=production,
                token=canary_dockerhub_token("a"),
                status=Status.EXPIRED,
                expires_at=NOW - timedelta(days=2),
            ),
            "custom_unreachable": RegistryFactory(
                custom=True,
                environment=production,
                token=f"{MARKER}-custom-password-1",
                certificate=certificate_pem(certificate),
                status=Status.UNREACHABLE,
            ),
            "dockerhub_valid": RegistryFactory(
                dockerhub=True,
                environment=staging,
                token=canary_dockerhub_token("b"),
                status=Status.VALID,
            ),
            "builtin": RegistryFactory(environment=staging),
        }

        ghcr, custom = registries["ghcr_valid"], registries["custom_unreachable"]
        for registry, status, trigger, duration_ms, minutes_ago in [
            (ghcr, Status.VALID, Trigger.SCHEDULE, 50, 5),
            (ghcr, Status.VALID, Trigger.SCHEDULE, 300, 10),
            (ghcr, Status.INVALID, Trigger.MANUAL, 1200, 20),
            (custom, Status.UNREACHABLE, Trigger.SCHEDULE, 7000, 30),
            # Outside the 60-minute window.
            (ghcr, Status.VALID, Trigger.SCHEDULE, 100, 90),
        ]:
            Check.objects.create(
                registry=registry,
                status=status,
                trigger=trigger,
                duration_ms=duration_ms,
                created_at=NOW - timedelta(minutes=minutes_ago),
            )

        expired = registries["dockerhub_expired"]
        for threshold, sent_at, attempts in [
            (7, NOW - timedelta(days=5), 1),
            (3, None, 2),
            (0, None, 0),
        ]:
            Alert.objects.create(
                registry=expired,
                kind=AlertKind.TOKEN_EXPIRY,
                threshold_days=threshold,
                fingerprint=expired.token_fingerprint,
                sent_at=sent_at,
                attempts=attempts,
            )

        cache.set("gimlet:sweep:last_duration", 42.5, timeout=60)
        cache.set("gimlet:sweep:last_finished", NOW - timedelta(minutes=3), timeout=60)
    return registries


@pytest.fixture
def samples(seeded, scrape):
    with time_machine.travel(NOW, tick=False):
        return parse_samples(scrape().content.decode())


# Credentials by tenant, kind and status.


CREDENTIAL_COUNTS = [
    ("acme", "ghcr", "valid", 1),
    ("acme", "ghcr", "invalid", 1),
    ("acme", "ghcr", "expired", 0),
    ("acme", "dockerhub", "expired", 1),
    ("acme", "dockerhub", "valid", 0),
    ("acme", "custom", "unreachable", 1),
    ("globex", "dockerhub", "valid", 1),
    ("globex", "builtin", "unchecked", 1),
]


@pytest.mark.parametrize(("tenant", "kind", "status", "count"), CREDENTIAL_COUNTS)
def test_credentials_counted(samples, tenant, kind, status, count):
    value = sample(
        samples, "gimlet_credentials", tenant=tenant, kind=kind, status=status
    )

    assert value == count


def test_credentials_every_status_reported(samples):
    statuses = {
        dict(labels)["status"]
        for name, labels in samples
        if name == "gimlet_credentials"
        and dict(labels)["tenant"] == "acme"
        and dict(labels)["kind"] == "ghcr"
    }

    assert statuses == set(Status.values)


def test_credentials_absent_pairs_omitted(samples):
    pairs = {
        (dict(labels)["tenant"], dict(labels)["kind"])
        for name, labels in samples
        if name == "gimlet_credentials"
    }

    assert ("globex", "ghcr") not in pairs


def test_credentials_total(samples):
    total = sum(
        value for (name, _), value in samples.items() if name == "gimlet_credentials"
    )

    assert total == 6


# Expiry.


def expiry(samples, registry, kind_of_expiry):
    return sample(
        samples,
        "gimlet_credential_expiry_seconds",
        id=str(registry.pk),
        tenant=registry.environment.tenant.slug,
        environment=registry.environment.name,
        kind=registry.kind,
        type=kind_of_expiry,
    )


def test_expiry_token_ahead(samples, seeded):
    assert expiry(samples, seeded["ghcr_valid"], "token") == 3 * DAY


def test_expiry_token_passed(samples, seeded):
    assert expiry(samples, seeded["dockerhub_expired"], "token") == -2 * DAY


def test_expiry_certificate(samples, seeded):
    assert expiry(samples, seeded["custom_unreachable"], "certificate") == 30 * DAY


def test_expiry_only_known_dates(samples):
    series = [name for name, _ in samples if name == "gimlet_credential_expiry_seconds"]

    assert len(series) == 3


# Checks.


@pytest.mark.parametrize(
    ("status", "trigger", "count"),
    [
        ("valid", "schedule", 2),
        ("invalid", "manual", 1),
        ("unreachable", "schedule", 1),
        ("valid", "manual", 0),
        ("expired", "save", 0),
    ],
)
def test_recent_checks_counted(samples, status, trigger, count):
    value = sample(samples, "gimlet_recent_checks", status=status, trigger=trigger)

    assert value == count


def test_recent_checks_window(samples):
    assert sample(samples, "gimlet_recent_checks_window_seconds") == 3600


@pytest.mark.parametrize(
    ("bound", "count"),
    [("0.1", 1), ("0.25", 1), ("0.5", 2), ("1.0", 2), ("2.5", 3), ("+Inf", 3)],
)
def test_check_duration_buckets(samples, bound, count):
    value = sample(
        samples, "gimlet_recent_check_duration_seconds_bucket", kind="ghcr", le=bound
    )

    assert value == count


def test_check_duration_sum(samples):
    value = sample(samples, "gimlet_recent_check_duration_seconds_gsum", kind="ghcr")

    assert value == pytest.approx(1.55)


def test_check_duration_slow_kind(samples):
    buckets = {
        bound: sample(
            samples,
            "gimlet_recent_check_duration_seconds_bucket",
            kind="custom",
            le=bound,
        )
        for bound in ("5.0", "10.0", "+Inf")
    }

    assert buckets == {"5.0": 0, "10.0": 1, "+Inf": 1}


def test_check_duration_kind_without_checks(samples):
    value = sample(
        samples,
        "gimlet_recent_check_duration_seconds_bucket",
        kind="builtin",
        le="+Inf",
    )

    assert value == 0


# Alerts and sweep.


@pytest.mark.parametrize(
    ("state", "count"), [("sent", 1), ("failed", 1), ("pending", 1)]
)
def test_alerts_by_state(samples, state, count):
    value = sample(
        samples, "gimlet_alerts", tenant="acme", kind="token_expiry", state=state
    )

    assert value == count


def test_alert_failed_attempts(samples):
    value = sample(
        samples, "gimlet_alert_failed_attempts", tenant="acme", kind="token_expiry"
    )

    assert value == 2


def test_sweep_duration(samples):
    assert sample(samples, "gimlet_sweep_last_duration_seconds") == 42.5


def test_sweep_finished(samples):
    value = sample(samples, "gimlet_sweep_last_finished_timestamp_seconds")

    assert value == (NOW - timedelta(minutes=3)).timestamp()


def test_sweep_not_running(samples):
    assert sample(samples, "gimlet_sweep_running") == 0


def test_sweep_running(seeded, scrape):
    cache.set(SWEEP_LOCK_KEY, "sweep-1", timeout=60)

    samples = parse_samples(scrape().content.decode())

    assert sample(samples, "gimlet_sweep_running") == 1


def test_sweep_never_ran(db, scrape, sweep_cache):
    samples = parse_samples(scrape().content.decode())
    names = {name for name, _ in samples}

    assert "gimlet_sweep_last_duration_seconds" not in names
    assert "gimlet_sweep_running" in names


# Secrets.


def test_no_secret_in_scrape(seeded, scrape):
    with time_machine.travel(NOW, tick=False):
        body = scrape().content.decode()
    stored = Registry.objects.filter(pk__in=[r.pk for r in seeded.values()])
    secrets = [value for r in stored for value in (r.token, r.certificate) if value]
    ciphertexts = Registry.objects.values_list("token", flat=True)
    fingerprints = [r.token_fingerprint for r in stored if r.token_fingerprint]

    assert MARKER not in body
    assert "BEGIN CERTIFICATE" not in body
    assert "gAAAAA" not in body
    for secret in secrets:
        assert secret not in body
    for fingerprint in fingerprints:
        assert fingerprint not in body
    assert len(secrets) == 6
    assert ciphertexts


def test_no_secret_in_labels(samples):
    for name, labels in samples:
        for label, value in labels:
            assert MARKER not in value, (name, label)
            assert not value.startswith(("ghp_", "dckr_pat_", "gAAAAA")), (name, label)


def test_scrape_decrypts_nothing(seeded, scrape, settings):
    """With a key that cannot decrypt the stored tokens, a scrape still works."""
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]

    response = scrape()

    assert b"gimlet_credentials" in response.content


def test_scrape_query_count_fixed(seeded, scrape, django_assert_num_queries):
    with django_assert_num_queries(5):
        scrape()
    environment = EnvironmentFactory()
    for number in range(20):
        RegistryFactory(environment=environment, dockerhub=True, name=f"hub-{number}")

    with django_assert_num_queries(5):
        scrape()


# Format.


def test_text_format_by_default(seeded, scrape):
    response = scrape()

    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert response["Cache-Control"] == "no-store"


def test_openmetrics_on_request(seeded, client, metrics_token):
    response = client.get(
        "/metrics",
        headers={
            "Authorization": f"Bearer {metrics_token}",
            "Accept": "application/openmetrics-text; version=1.0.0",
        },
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.rstrip().endswith(b"# EOF")
