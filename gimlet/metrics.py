"""Prometheus metrics at GET /metrics, computed at scrape time.

Every value comes from the database, or from the shared cache for the
sweep, and none from counters in process memory. Web processes and
workers run on several machines, so an in-process counter would differ in
each process that a scrape happens to reach. A value read from the
database is the same whichever web process serves the scrape. Check
counts and durations are therefore gauges over a recent window of Check
rows (GIMLET_METRICS_CHECK_WINDOW_MINUTES) and not ever-growing counters:
counting every Check row on each scrape would grow with the history.

Each scrape runs a fixed number of queries whatever the number of
credentials, and reads no encrypted column, so nothing is decrypted.
"""

import hmac
import ipaddress
import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe
from django_scopes import scopes_disabled
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from registries.models import Alert, Check, Kind, Registry, Status, Trigger
from registries.sweep import SWEEP_LOCK_KEY

logger = logging.getLogger(__name__)

# Upper bounds of the check duration buckets, in seconds. A check's
# outbound requests time out after 5 s to connect and 10 s to read by
# default, and the check task is stopped after 60 s.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
ALERT_STATES = ("sent", "pending", "failed")


def credential_metrics():
    """Count credentials by tenant, kind and status in one query.

    Every status is reported for each (tenant, kind) pair that has a
    credential, zeros included, so a series does not vanish when its last
    credential changes status.
    """
    rows = (
        Registry.objects.values("environment__tenant__slug", "kind", "status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    counts = {}
    for row in rows:
        pair = (row["environment__tenant__slug"], row["kind"])
        counts.setdefault(pair, dict.fromkeys(Status.values, 0))[row["status"]] = row[
            "count"
        ]
    family = GaugeMetricFamily(
        "gimlet_credentials",
        "Stored registry credentials by tenant, kind and status.",
        labels=["tenant", "kind", "status"],
    )
    for (tenant, kind), by_status in sorted(counts.items()):
        for status, count in by_status.items():
            family.add_metric([tenant, kind, status], count)
    return family


def expiry_metrics(now):
    """Seconds until each known token or certificate expiry; negative once
    it has passed.
    """
    rows = (
        Registry.objects.filter(
            Q(expires_at__isnull=False) | Q(certificate_expires_at__isnull=False)
        )
        .values_list(
            "pk",
            "kind",
            "environment__tenant__slug",
            "environment__name",
            "expires_at",
            "certificate_expires_at",
        )
        .order_by("pk")
    )
    family = GaugeMetricFamily(
        "gimlet_credential_expiry_seconds",
        "Seconds until a credential's token or CA certificate expires, "
        "negative once expired; type is token or certificate.",
        labels=["id", "tenant", "environment", "kind", "type"],
    )
    for pk, kind, tenant, environment, token_expiry, certificate_expiry in rows:
        for kind_of_expiry, expires_at in (
            ("token", token_expiry),
            ("certificate", certificate_expiry),
        ):
            if expires_at is not None:
                family.add_metric(
                    [str(pk), tenant, environment, kind, kind_of_expiry],
                    (expires_at - now).total_seconds(),
                )
    return family


def check_metrics(now):
    """Checks recorded in the window: their outcomes and their durations."""
    window = timedelta(minutes=settings.GIMLET_METRICS_CHECK_WINDOW_MINUTES)
    recent = Check.objects.filter(created_at__gt=now - window)

    window_family = GaugeMetricFamily(
        "gimlet_recent_checks_window_seconds",
        "Length of the window that the gimlet_recent_check metrics cover.",
        value=window.total_seconds(),
    )

    outcomes = {
        (row["status"], row["trigger"]): row["count"]
        for row in recent.values("status", "trigger")
        .annotate(count=Count("pk"))
        .order_by()
    }
    outcome_family = GaugeMetricFamily(
        "gimlet_recent_checks",
        "Checks recorded in the window, by outcome (status) and trigger.",
        labels=["status", "trigger"],
    )
    for status in Status.values:
        for trigger in Trigger.values:
            outcome_family.add_metric(
                [status, trigger], outcomes.get((status, trigger), 0)
            )

    return [window_family, outcome_family, _duration_metrics(recent)]


def _duration_metrics(recent):
    """Build a histogram of the window's check durations by registry kind."""
    buckets = {
        f"le_{index}": Count("pk", filter=Q(duration_ms__lte=int(bound * 1000)))
        for index, bound in enumerate(DURATION_BUCKETS)
    }
    rows = {
        row["registry__kind"]: row
        for row in recent.values("registry__kind")
        .annotate(count=Count("pk"), total_ms=Sum("duration_ms"), **buckets)
        .order_by()
    }
    family = GaugeHistogramMetricFamily(
        "gimlet_recent_check_duration_seconds",
        "Durations of the checks recorded in the window, by registry kind.",
        labels=["kind"],
    )
    for kind in Kind.values:
        row = rows.get(kind)
        if row is None:
            bucket_counts = [(str(float(bound)), 0) for bound in DURATION_BUCKETS]
            family.add_metric([kind], [*bucket_counts, ("+Inf", 0)], 0)
            continue
        bucket_counts = [
            (str(float(bound)), row[f"le_{index}"])
            for index, bound in enumerate(DURATION_BUCKETS)
        ]
        family.add_metric(
            [kind],
            [*bucket_counts, ("+Inf", row["count"])],
            (row["total_ms"] or 0) / 1000,
        )
    return family


def alert_metrics():
    """Alerts by tenant, kind and state, and their failed send attempts.

    An alert is sent once its email went out, failed while unsent after at
    least one attempt (it is retried), and pending before its first
    attempt.
    """
    unsent = Q(sent_at__isnull=True)
    rows = (
        Alert.objects.values("registry__environment__tenant__slug", "kind")
        .annotate(
            sent=Count("pk", filter=Q(sent_at__isnull=False)),
            failed=Count("pk", filter=unsent & Q(attempts__gt=0)),
            pending=Count("pk", filter=unsent & Q(attempts=0)),
            attempts=Sum("attempts"),
        )
        .order_by("registry__environment__tenant__slug", "kind")
    )
    states = GaugeMetricFamily(
        "gimlet_alerts",
        "Alerts by tenant, kind and state (sent, pending or failed).",
        labels=["tenant", "kind", "state"],
    )
    failures = GaugeMetricFamily(
        "gimlet_alert_failed_attempts",
        "Failed attempts to send the stored alerts, by tenant and kind.",
        labels=["tenant", "kind"],
    )
    for row in rows:
        tenant = row["registry__environment__tenant__slug"]
        for state in ALERT_STATES:
            states.add_metric([tenant, row["kind"], state], row[state])
        # Each sent alert took exactly one successful attempt.
        failures.add_metric([tenant, row["kind"]], row["attempts"] - row["sent"])
    return [states, failures]


def sweep_metrics():
    """Report the last sweep's duration and end, and whether one runs now."""
    try:
        values = cache.get_many(
            ["gimlet:sweep:last_duration", "gimlet:sweep:last_finished", SWEEP_LOCK_KEY]
        )
    except Exception:  # Redis and database cache errors alike.
        logger.warning("Reading the sweep state from the cache failed.", exc_info=True)
        return []
    families = [
        GaugeMetricFamily(
            "gimlet_sweep_running",
            "1 while a sweep of every credential is running, otherwise 0.",
            value=1 if values.get(SWEEP_LOCK_KEY) else 0,
        )
    ]
    duration = values.get("gimlet:sweep:last_duration")
    if duration is not None:
        families.append(
            GaugeMetricFamily(
                "gimlet_sweep_last_duration_seconds",
                "Duration of the last finished sweep.",
                value=duration,
            )
        )
    finished = values.get("gimlet:sweep:last_finished")
    if finished is not None:
        families.append(
            GaugeMetricFamily(
                "gimlet_sweep_last_finished_timestamp_seconds",
                "Unix time at which the last sweep finished.",
                value=finished.timestamp(),
            )
        )
    return families


class GimletCollector(Collector):
    def collect(self):
        now = timezone.now()
        with scopes_disabled():
            yield credential_metrics()
            yield expiry_metrics(now)
            yield from check_metrics(now)
            yield from alert_metrics()
        yield from sweep_metrics()


# Access.


def client_address(request):
    """Return the client's IP address, or None when it is not one.

    REMOTE_ADDR is the peer's address. Behind DJANGO_NUM_PROXIES trusted
    proxies, the client is the entry that many hops from the right of
    X-Forwarded-For, as for the API's throttles.
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",")]
        address = hops[-min(proxies, len(hops))]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if parsed.version == 6 and parsed.ipv4_mapped:
        return parsed.ipv4_mapped
    return parsed


def from_allowed_network(request):
    address = client_address(request)
    if address is None:
        return False
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.GIMLET_METRICS_ALLOWED_NETWORKS
    )


def bearer_token(request):
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def access_denied(request):
    """Return the response that rejects this scrape, or None to allow it.

    A client inside GIMLET_METRICS_ALLOWED_NETWORKS or presenting
    GIMLET_METRICS_TOKEN is allowed. With neither setting, every request is
    rejected.
    """
    if from_allowed_network(request):
        return None
    expected = settings.GIMLET_METRICS_TOKEN
    if expected:
        presented = bearer_token(request)
        if presented is not None and hmac.compare_digest(
            presented.encode(), expected.encode()
        ):
            return None
        # RFC 6750, section 3: a missing token gets the bare challenge, a
        # wrong one error="invalid_token".
        challenge = 'Bearer realm="metrics"'
        if presented is not None:
            challenge += ', error="invalid_token"'
        response = _text_response(
            "Send the metrics token as Authorization: Bearer <token>.", 401
        )
        response["WWW-Authenticate"] = challenge
        return response
    if settings.GIMLET_METRICS_ALLOWED_NETWORKS:
        return _text_response("This address may not read the metrics.", 403)
    return _text_response(
        "Metrics are disabled: set GIMLET_METRICS_TOKEN or "
        "GIMLET_METRICS_ALLOWED_NETWORKS to allow scrapes.",
        403,
    )


def _text_response(text, status):
    response = HttpResponse(f"{text}\n", status=status, content_type="text/plain")
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def metrics_view(request):
    """Return the metrics in the format that the Accept header requests.

    The Prometheus text format by default, OpenMetrics on request.
    """
    denied = access_denied(request)
    if denied is not None:
        return denied
    registry = CollectorRegistry()
    registry.register(GimletCollector())
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = HttpResponse(encoder(registry), content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
