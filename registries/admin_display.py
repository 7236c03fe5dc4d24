"""HTML snippets for a credential's status and expiry dates in the admin.

The admin lists, the environment page and the dashboard share them, so a
status looks the same everywhere: a coloured badge that also carries its
text, for readers who cannot tell the colours apart.
"""

import math
from datetime import UTC, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django.utils.translation import ngettext

from registries.models import ExpirySource, Status

# Badge tone per status: ok (green), error (red), warning (orange),
# unknown (amber: no verdict on the credential) and neutral (grey).
STATUS_TONES = {
    Status.VALID: "ok",
    Status.UNCHECKED: "neutral",
    Status.INVALID: "error",
    Status.EXPIRED: "error",
    Status.TLS_ERROR: "error",
    Status.INSUFFICIENT_SCOPE: "warning",
    Status.CONFIG_ERROR: "warning",
    Status.UNREACHABLE: "unknown",
}
LAST_CHECK_MESSAGE_CHARS = 80


def utc_minutes(moment):
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def status_badge(status, label=None):
    tone = STATUS_TONES.get(status, "neutral")
    label = label or Status(status).label
    return format_html(
        '<span class="gimlet-badge gimlet-badge-{}">{}</span>', tone, label
    )


def registry_status_badge(registry):
    """Return the status badge, plus an "expiring" badge while one applies."""
    badge = status_badge(registry.status, registry.get_status_display())
    if registry.expiring:
        badge = format_html(
            '{} <span class="gimlet-badge gimlet-badge-warning">Expiring</span>',
            badge,
        )
    return badge


def countdown(moment, now=None):
    """Return "expires in 3 days", "expires in 5 hours" or "expired 2 days ago".

    Whole days are rounded up, as the expiry alerts count them, so a token
    that expires in 19.5 days "expires in 20 days".
    """
    now = now or timezone.now()
    remaining = moment - now
    if remaining <= timedelta(0):
        ago = math.floor(-remaining / timedelta(days=1))
        if ago == 0:
            return "expired today"
        return ngettext("expired %d day ago", "expired %d days ago", ago) % ago
    if remaining < timedelta(days=1):
        hours = math.ceil(remaining / timedelta(hours=1))
        return ngettext("expires in %d hour", "expires in %d hours", hours) % hours
    days = math.ceil(remaining / timedelta(days=1))
    return ngettext("expires in %d day", "expires in %d days", days) % days


def expiry_tone(moment, now=None):
    now = now or timezone.now()
    if moment <= now:
        return "past"
    if moment - now <= timedelta(days=settings.GIMLET_EXPIRING_WINDOW_DAYS):
        return "soon"
    return "later"


def dated_countdown(moment, subject, now=None):
    """Return "<subject> expires in N days" in a <time> with the full date."""
    return format_html(
        '<time class="gimlet-expiry gimlet-expiry-{}" datetime="{}" '
        'title="{}">{} {}</time>',
        expiry_tone(moment, now),
        moment.isoformat(),
        utc_minutes(moment),
        subject,
        countdown(moment, now),
    )


def dated_expiry(moment, now=None):
    """Return "2026-12-29 14:41 UTC (expires in 25 days)" for a form."""
    return format_html(
        '<time class="gimlet-expiry-{}" datetime="{}">{}</time> ({})',
        expiry_tone(moment, now),
        moment.isoformat(),
        utc_minutes(moment),
        countdown(moment, now),
    )


def token_expiry(registry, now=None):
    """Describe when the token expires, or why that is unknown."""
    if registry.expires_at is not None:
        return dated_countdown(registry.expires_at, "Token", now)
    if registry.expires_at_source == ExpirySource.REGISTRY:
        return "Token has no expiry date"
    return ""


def certificate_expiry(registry, now=None):
    if registry.certificate_expires_at is None:
        return ""
    return dated_countdown(registry.certificate_expires_at, "CA certificate", now)


def expiry_summary(registry, now=None):
    """Return the token and certificate countdowns, one per line."""
    now = now or timezone.now()
    lines = [
        line
        for line in (token_expiry(registry, now), certificate_expiry(registry, now))
        if line
    ]
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))


def last_check(registry, now=None):
    """Return when the credential was last checked and the check's message."""
    if registry.checked_at is None:
        return format_html('<div class="gimlet-muted">{}</div>', "Never checked")
    now = now or timezone.now()
    message = registry.status_message
    elapsed = now - registry.checked_at
    ago = (
        "just now"
        if elapsed < timedelta(minutes=1)
        else f"{timesince(registry.checked_at, now)} ago"
    )
    return format_html(
        '<div class="gimlet-muted">checked <time datetime="{}" title="{}">'
        "{}</time></div>"
        '<div class="gimlet-message" title="{}">{}</div>',
        registry.checked_at.isoformat(),
        utc_minutes(registry.checked_at),
        ago,
        message,
        Truncator(message).chars(LAST_CHECK_MESSAGE_CHARS),
    )
