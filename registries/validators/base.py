"""The interface every registry validator implements, and shared helpers."""

import base64
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from django.utils import timezone

from gimlet.logging import REDACTED, redact
from registries.http import (
    BlockedAddressError,
    NetworkError,
    OutboundError,
    RedirectError,
    ResponseTooLargeError,
    TLSError,
)
from registries.models import Status

logger = logging.getLogger(__name__)

MAX_UPSTREAM_MESSAGE = 200
# Upper bound on a wait that an upstream names, so a bogus Retry-After of
# years does not pause a credential for good.
MAX_RETRY_AFTER = timedelta(hours=24)
# GitHub's advice when a rate-limited response names no time: wait at least a
# minute ("Troubleshooting the REST API", GitHub docs).
DEFAULT_RETRY_AFTER = timedelta(minutes=1)


@dataclass
class CheckResult:
    """The findings of one check of a credential.

    `expiry_read` is true when the check learned the token's expiry:
    then `expires_at` is the date, or None for a token that never expires.
    Otherwise the stored date stays. `scopes` is None when the check learned
    nothing about them.
    """

    status: str
    message: str
    http_status: int | None = None
    expires_at: datetime | None = None
    expiry_read: bool = False
    scopes: list[str] | None = None
    retry_after: datetime | None = None
    duration_ms: int = 0
    secrets: list[str] = field(default_factory=list, repr=False)


class Validator:
    """Check one kind of registry credential.

    Subclasses implement `run(registry)`, which returns a CheckResult and may
    raise OutboundError. `validate()` turns those errors into results, times
    the check and removes secrets from the message.
    """

    kind = ""

    def validate(self, registry):
        started = time.monotonic()
        try:
            result = self.run(registry)
        except OutboundError as error:
            result = result_for_error(error)
        result.duration_ms = int((time.monotonic() - started) * 1000)
        secrets = [*echoed_forms(registry.login, registry.token), *result.secrets]
        result.message = scrub(result.message, secrets)
        result.secrets = []
        return result

    def run(self, registry):
        raise NotImplementedError


ERROR_STATUSES = (
    (BlockedAddressError, Status.CONFIG_ERROR),
    (TLSError, Status.TLS_ERROR),
    (NetworkError, Status.UNREACHABLE),
    (ResponseTooLargeError, Status.CONFIG_ERROR),
    (RedirectError, Status.CONFIG_ERROR),
    (OutboundError, Status.CONFIG_ERROR),
)


def result_for_error(error):
    status = next(status for kind, status in ERROR_STATUSES if isinstance(error, kind))
    return CheckResult(status=status, message=str(error))


def echoed_forms(login, token):
    """Return the forms in which an upstream may echo a login and token.

    A registry that repeats the request in its error body may send back the
    token, its URL encoding, or the base64 of "login:token" from the Basic
    authorization header without the "Basic" scheme.
    """
    if not token:
        return []
    forms = [token, quote(token, safe="")]
    for text in (f"{login or ''}:{token}", token):
        encoded = base64.b64encode(text.encode()).decode()
        forms += [encoded, encoded.rstrip("=")]
    return forms


def scrub(text, secrets):
    """Remove the given secrets and anything token-shaped from `text`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return redact(text)


def upstream_message(response):
    """Return the error message a JSON body carries, shortened, or ''."""
    data = response.json() or {}
    message = ""
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        message = errors[0].get("message") or errors[0].get("code") or ""
    for key in ("message", "details", "detail", "error_description", "error"):
        if not message and isinstance(data.get(key), str):
            message = data[key]
    message = " ".join(str(message).split())
    if len(message) > MAX_UPSTREAM_MESSAGE:
        message = message[: MAX_UPSTREAM_MESSAGE - 1] + "…"
    return message


def error_codes(response):
    """Return the OCI distribution error codes of a body, upper case."""
    errors = (response.json() or {}).get("errors")
    if not isinstance(errors, list):
        return set()
    return {
        str(item.get("code", "")).upper() for item in errors if isinstance(item, dict)
    }


def quoted(message):
    return f" ({message})" if message else ""


def describe_answer(response):
    """Return "HTTP 401: Bad credentials", or "HTTP 401" without a message."""
    detail = upstream_message(response)
    return f"HTTP {response.status}: {detail}" if detail else f"HTTP {response.status}"


def clamp_retry_after(moment, now=None):
    now = now or timezone.now()
    return min(max(moment.astimezone(UTC), now), now + MAX_RETRY_AFTER)


def parse_retry_after(value, now=None):
    """Return the time a Retry-After header names (seconds or an HTTP date)."""
    if not value:
        return None
    now = now or timezone.now()
    value = value.strip()
    if value.isdigit():
        return clamp_retry_after(now + timedelta(seconds=int(value)), now)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return clamp_retry_after(moment, now)


def unreachable(response, service, *, retry_after=None, rate_limited=False):
    """Return the result for a rate-limited or 5xx response from `service`."""
    retry_after = retry_after or parse_retry_after(response.headers.get("Retry-After"))
    rate_limited = rate_limited or response.status == 429
    if rate_limited and retry_after is None:
        retry_after = timezone.now() + DEFAULT_RETRY_AFTER
    status_text = describe_answer(response)
    if rate_limited:
        message = f"{service} is rate limiting requests ({status_text})."
    else:
        message = f"{service} returned a server error ({status_text})."
    if retry_after:
        message += f" The next check waits until {retry_after:%Y-%m-%d %H:%M} UTC."
    else:
        message += " The check will be retried later."
    return CheckResult(
        status=Status.UNREACHABLE,
        message=message,
        http_status=response.status,
        retry_after=retry_after,
    )


def is_transient(response):
    return response.status == 429 or response.status >= 500
