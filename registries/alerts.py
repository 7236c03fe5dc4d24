"""Expiry and status-change alerts, sent as one digest email per tenant.

An Alert row is written before anything is sent and stamped when the email
has gone out. Rows are unique per (registry, kind, threshold, fingerprint),
so no row is created, and no email sent, twice for one secret and
threshold. A new token or certificate has a new fingerprint, so it re-arms
its alerts. A failed send leaves the rows pending for the next run.
"""

import hashlib
import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from gimlet.log_context import log_context
from gimlet.models import Membership, Role, Tenant
from registries.models import Alert, AlertKind, Registry, Status

logger = logging.getLogger(__name__)

ALERTING_STATUSES = {Status.INVALID, Status.EXPIRED, Status.INSUFFICIENT_SCOPE}
MAX_ERROR_LENGTH = 500


@dataclass(frozen=True)
class PlannedAlert:
    registry: Registry
    kind: str
    threshold_days: int
    fingerprint: str
    detail: str = ""


def days_left(expires_at, now):
    """Whole days until `expires_at`, rounded up; 0 or less once passed."""
    return math.ceil((expires_at - now).total_seconds() / 86400)


def tightest_threshold(expires_at, now, thresholds=None):
    """Return the smallest threshold already crossed, 0 when expired.

    None when no threshold is crossed yet. When a run happens after several
    thresholds have passed, only the tightest one is alerted.
    """
    thresholds = settings.GIMLET_EXPIRY_ALERT_DAYS if thresholds is None else thresholds
    if expires_at <= now:
        return 0
    remaining = (expires_at - now).total_seconds() / 86400
    crossed = [days for days in thresholds if remaining <= days]
    return min(crossed) if crossed else None


def expiry_alerts_due(now):
    """Plan the expiry alerts of every tenant's tokens and certificates."""
    horizon = now + timezone.timedelta(days=max(settings.GIMLET_EXPIRY_ALERT_DAYS))
    registries = (
        Registry.objects.without_secrets()
        .filter(Q(expires_at__lte=horizon) | Q(certificate_expires_at__lte=horizon))
        .select_related("environment__tenant")
    )
    planned = []
    for registry in registries.iterator(chunk_size=500):
        for kind, expires_at, fingerprint in (
            (AlertKind.TOKEN_EXPIRY, registry.expires_at, registry.token_fingerprint),
            (
                AlertKind.CERTIFICATE_EXPIRY,
                registry.certificate_expires_at,
                registry.certificate_fingerprint,
            ),
        ):
            if expires_at is None or not fingerprint:
                continue
            threshold = tightest_threshold(expires_at, now)
            if threshold is not None:
                planned.append(PlannedAlert(registry, kind, threshold, fingerprint))
    return planned


def alerts_record(planned):
    """Create the rows of planned alerts that do not exist yet; return them."""
    created = []
    for alert in planned:
        try:
            with transaction.atomic():
                row, was_created = Alert.objects.get_or_create(
                    registry=alert.registry,
                    kind=alert.kind,
                    threshold_days=alert.threshold_days,
                    fingerprint=alert.fingerprint,
                    defaults={"detail": alert.detail},
                )
        except IntegrityError:
            # Another process recorded the same alert at the same moment.
            continue
        if was_created:
            created.append(row)
    return created


def status_change_alert_record(*, registry, previous_status, previous_valid_at):
    """Record one alert when a valid credential turns invalid or expired.

    The fingerprint covers the secret, the new status and the end of the
    valid period, so a repeated check of the same transition adds nothing.
    """
    if previous_status != Status.VALID or registry.status not in ALERTING_STATUSES:
        return None
    seed = ":".join(
        [
            registry.token_fingerprint,
            registry.status,
            previous_valid_at.isoformat() if previous_valid_at else "",
        ]
    )
    fingerprint = hashlib.sha256(seed.encode()).hexdigest()
    planned = PlannedAlert(
        registry, AlertKind.STATUS_CHANGE, 0, fingerprint, detail=registry.status
    )
    created = alerts_record([planned])
    return created[0] if created else None


def tenant_recipients(tenant):
    admins = (
        Membership.objects.filter(tenant=tenant, role=Role.ADMIN, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    addresses = [*admins, *tenant.alert_emails]
    return sorted(set(addresses), key=addresses.index)


def alert_row_context(alert, now):
    registry = alert.registry
    if alert.kind == AlertKind.CERTIFICATE_EXPIRY:
        expires_at = registry.certificate_expires_at
    elif alert.kind == AlertKind.TOKEN_EXPIRY:
        expires_at = registry.expires_at
    else:
        expires_at = None
    path = reverse("admin:registries_registry_change", args=[registry.pk])
    return {
        "alert": alert,
        "registry": registry,
        "environment": registry.environment.name,
        "expires_at": expires_at,
        "days_left": days_left(expires_at, now) if expires_at else None,
        "url": settings.GIMLET_BASE_URL.rstrip("/") + path,
    }


def digest_render(tenant, alerts, now):
    """Return (subject, text, html) of a tenant's alert digest."""
    rows = [alert_row_context(alert, now) for alert in alerts]
    context = {
        "tenant": tenant,
        "rows": rows,
        "expiring": [r for r in rows if r["alert"].kind != AlertKind.STATUS_CHANGE],
        "failing": [r for r in rows if r["alert"].kind == AlertKind.STATUS_CHANGE],
        "now": now,
    }
    count = len(rows)
    subject = (
        f"[Gimlet] {tenant.name}: {count} registry credential"
        f"{'s need' if count != 1 else ' needs'} attention"
    )
    text = render_to_string("emails/alert_digest.txt", context)
    html = render_to_string("emails/alert_digest.html", context)
    return subject, text, html


def pending_alerts():
    return (
        Alert.objects.filter(sent_at__isnull=True)
        .select_related("registry__environment__tenant")
        .defer("registry__token", "registry__certificate")
        .order_by("registry__environment__tenant_id", "created_at", "id")
    )


def send_pending_alerts(now=None):
    """Send one digest per tenant with pending alerts; return (sent, failed).

    A tenant whose email fails keeps its rows pending, with the error and
    attempt count stored, and is tried again on the next run.
    """
    now = now or timezone.now()
    by_tenant = {}
    for alert in pending_alerts():
        by_tenant.setdefault(alert.registry.environment.tenant_id, []).append(alert)
    sent = failed = 0
    for tenant_id, alerts in by_tenant.items():
        tenant = Tenant.objects.get(pk=tenant_id)
        with log_context(tenant_id=tenant_id):
            delivered = digest_send(tenant, alerts, now)
        if delivered:
            sent += 1
        else:
            failed += 1
    return sent, failed


def digest_send(tenant, alerts, now):
    ids = [alert.pk for alert in alerts]
    recipients = tenant_recipients(tenant)
    if not recipients:
        logger.warning(
            "Tenant %s has alerts %s but no admin email or alert address.",
            tenant.slug,
            ids,
        )
        return False
    subject, text, html = digest_render(tenant, alerts, now)
    message = EmailMultiAlternatives(subject, text, to=recipients)
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception as error:  # SMTP, socket and backend errors alike.
        Alert.objects.filter(pk__in=ids).update(
            attempts=F("attempts") + 1,
            last_error=f"{type(error).__name__}: {error}"[:MAX_ERROR_LENGTH],
        )
        logger.warning(
            "Sending the alert digest of tenant %s (alerts %s) failed: %s",
            tenant.slug,
            ids,
            error,
        )
        return False
    Alert.objects.filter(pk__in=ids).update(
        sent_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
    )
    logger.info(
        "Sent the alert digest of tenant %s to %d recipients (alerts %s).",
        tenant.slug,
        len(recipients),
        ids,
    )
    return True


def expiry_alerts_run(now=None):
    """Record the expiry alerts due now, then send every pending alert."""
    now = now or timezone.now()
    created = alerts_record(expiry_alerts_due(now))
    sent, failed = send_pending_alerts(now)
    return len(created), sent, failed


def planned_digests(now):
    """Return what a run would send now, as {tenant: [PlannedAlert]}.

    Nothing is written.
    """
    existing = set(
        Alert.objects.values_list(
            "registry_id", "kind", "threshold_days", "fingerprint"
        )
    )
    digests = {}
    for alert in expiry_alerts_due(now):
        key = (alert.registry.pk, alert.kind, alert.threshold_days, alert.fingerprint)
        if key not in existing:
            digests.setdefault(alert.registry.environment.tenant, []).append(alert)
    for alert in pending_alerts():
        planned = PlannedAlert(
            alert.registry, alert.kind, alert.threshold_days, alert.fingerprint
        )
        digests.setdefault(alert.registry.environment.tenant, []).append(planned)
    return digests


ALERTS_SCHEDULED_KEY = "gimlet:alerts:scheduled"
ALERTS_DELAY_SECONDS = 10


def alerts_send_soon():
    """Schedule one send of pending alerts in a few seconds.

    Credentials that fail together, as in a sweep, then share one digest
    per tenant instead of one email each. A broker outage is logged; the
    next alert run sends the pending rows.
    """
    from registries.tasks import send_alerts

    if not cache.add(ALERTS_SCHEDULED_KEY, True, timeout=ALERTS_DELAY_SECONDS * 6):
        return
    try:
        send_alerts.apply_async(countdown=ALERTS_DELAY_SECONDS)
    except Exception:  # kombu raises many types for an unreachable broker.
        cache.delete(ALERTS_SCHEDULED_KEY)
        logger.warning(
            "Could not enqueue the sending of pending alerts; the next alert "
            "run sends them.",
            exc_info=True,
        )
