"""GitHub Container Registry credentials: a classic personal access token.

GitHub's REST API shows whether a token works, which scopes it has
(X-OAuth-Scopes) and when it expires (GitHub-Authentication-Token-Expiration);
ghcr.io's token endpoint then confirms that the registry takes the login.
"""

import re
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone

from registries.http import OutboundError, outbound_client
from registries.models import Kind, Status
from registries.validators.base import (
    DEFAULT_RETRY_AFTER,
    CheckResult,
    Validator,
    clamp_retry_after,
    describe_answer,
    parse_retry_after,
    unreachable,
    upstream_message,
)

API_VERSION = "2022-11-28"
EXPIRY_HEADER = "GitHub-Authentication-Token-Expiration"
PUSH_SCOPE = "write:packages"
PRIVATE_SCOPE = "repo"
# GitHub writes the expiry as "2026-12-31 23:59:59 UTC" or with a numeric
# offset, "2026-12-31 23:59:59 +0000", always on a 24-hour clock.
EXPIRY_PATTERN = re.compile(
    r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) (UTC|[+-]\d{2}:?\d{2})"
)
# Any repository in the login's namespace: ghcr.io issues pull tokens for
# repositories that do not exist yet, since pushing a new package needs one.
# NOTE: inferred from the push flow, not from GitHub's documentation. If
# ghcr.io ever denied this probe, valid tokens would be reported invalid;
# GIMLET_GHCR_CHECK=false turns the probe off.
PROBE_REPOSITORY = "gimlet-credential-check"
RATE_LIMIT_PHRASES = ("rate limit", "login attempts")


def parse_token_expiry(value):
    """Return the expiry date in GitHub's header as aware UTC, or None."""
    match = EXPIRY_PATTERN.fullmatch(value.strip())
    if not match:
        return None
    day, clock, zone = match.groups()
    offset = "+0000" if zone == "UTC" else zone.replace(":", "")
    try:
        moment = datetime.strptime(f"{day} {clock} {offset}", "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return None
    return moment.astimezone(UTC)


def rate_limit_until(response):
    """Return when a rate-limited response allows the next try, else None.

    GitHub marks a primary rate limit with x-ratelimit-remaining: 0 and the
    reset time in x-ratelimit-reset (UTC epoch seconds), a secondary one
    with retry-after or a message, on a 403 or a 429.
    """
    now = timezone.now()
    headers = response.headers
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        reset = headers.get("x-ratelimit-reset", "").strip()
        if reset.isdigit():
            return clamp_retry_after(datetime.fromtimestamp(int(reset), UTC), now)
        return now + DEFAULT_RETRY_AFTER
    retry_after = parse_retry_after(headers.get("retry-after"), now)
    if retry_after:
        return retry_after
    message = upstream_message(response).lower()
    if response.status == 429 or any(p in message for p in RATE_LIMIT_PHRASES):
        return now + DEFAULT_RETRY_AFTER
    return None


def format_moment(moment):
    return f"{moment:%Y-%m-%d %H:%M} UTC"


class GitHubValidator(Validator):
    kind = Kind.GHCR

    def run(self, registry):
        with outbound_client() as client:
            response = client.get(
                f"{settings.GIMLET_GITHUB_API_URL}/user",
                headers={
                    "Authorization": f"Bearer {registry.token}",
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": API_VERSION,
                },
                trusted=True,
            )
            result = self.classify(registry, response)
            if result.status == Status.VALID and settings.GIMLET_GHCR_CHECK:
                result = self.confirm_registry(client, registry, result)
        return result

    def classify(self, registry, response):
        if response.status == 200:
            return self.accepted(registry, response)
        if response.status == 401:
            return CheckResult(
                status=Status.INVALID,
                message=f"GitHub rejected the token ({describe_answer(response)}): "
                "it was revoked, has expired or was mistyped. Create a new "
                "classic token with the repo and write:packages scopes and save "
                "it here.",
                http_status=401,
            )
        if response.status in (403, 429):
            retry_after = rate_limit_until(response)
            if retry_after:
                return unreachable(
                    response, "GitHub", retry_after=retry_after, rate_limited=True
                )
            return CheckResult(
                status=Status.CONFIG_ERROR,
                message=f"GitHub rejected the request ({describe_answer(response)}) "
                "without naming a rate limit, so the token's state is unknown. "
                "Sign in to GitHub as "
                f"{registry.login} to check the account.",
                http_status=403,
            )
        if response.status >= 500:
            return unreachable(response, "GitHub")
        return CheckResult(
            status=Status.CONFIG_ERROR,
            message=f"GitHub's API at {settings.GIMLET_GITHUB_API_URL} returned "
            f"HTTP {response.status} to GET /user. Check GIMLET_GITHUB_API_URL "
            "(GitHub Enterprise Server uses https://HOST/api/v3).",
            http_status=response.status,
        )

    def accepted(self, registry, response):
        header = response.headers.get("X-OAuth-Scopes")
        if header is None:
            scopes = []
            status = Status.INSUFFICIENT_SCOPE
            sentences = [
                "GitHub accepted the token but sent no X-OAuth-Scopes header, "
                "so it is not a classic personal access token. GitHub Packages "
                "needs a classic token with the write:packages and repo scopes."
            ]
        else:
            scopes = sorted({scope.strip() for scope in header.split(",")} - {""})
            status, sentences = self.judge_scopes(scopes)
        login = (response.json() or {}).get("login")
        if isinstance(login, str) and login and login.lower() != registry.login.lower():
            sentences.append(
                f"The token belongs to GitHub user {login}, not {registry.login}; "
                f"images under ghcr.io/{registry.login.lower()} need a token of "
                f"{registry.login} or access granted to {login}."
            )
        result = CheckResult(status=status, message="", http_status=200, scopes=scopes)
        sentences.append(self.read_expiry(response, result))
        result.message = " ".join(sentences)
        return result

    @staticmethod
    def judge_scopes(scopes):
        listed = ", ".join(scopes) or "none"
        if PUSH_SCOPE not in scopes:
            return Status.INSUFFICIENT_SCOPE, [
                "The token lacks the write:packages scope, which pushing images "
                f"needs (its scopes: {listed}). Add write:packages to the token "
                "on GitHub, under Settings, Developer settings, Personal access "
                "tokens."
            ]
        sentences = [f"GitHub accepted the token (scopes: {listed})."]
        if PRIVATE_SCOPE not in scopes:
            sentences.append(
                "Without the repo scope, packages of private repositories are "
                "out of its reach."
            )
        return Status.VALID, sentences

    @staticmethod
    def read_expiry(response, result):
        """Store the token's expiry on `result`; return a sentence about it."""
        value = response.headers.get(EXPIRY_HEADER)
        if value is None:
            result.expiry_read = True
            result.expires_at = None
            return "The token has no expiry date."
        expires_at = parse_token_expiry(value)
        if expires_at is None:
            shown = value.strip()[:40]
            return (
                f"GitHub sent an expiry date in an unknown format ({shown!r}), "
                "so the expiry date is unknown."
            )
        result.expiry_read = True
        result.expires_at = expires_at
        return f"The token expires on {format_moment(expires_at)}."

    def confirm_registry(self, client, registry, result):
        """Ask ghcr.io for a pull token; a denial makes the result invalid.

        ghcr.io returns 403 DENIED, not 401, for bad credentials, even for
        public images. Any other failure leaves GitHub's verdict in place.
        """
        scope = f"repository:{registry.login.lower()}/{PROBE_REPOSITORY}:pull"
        query = urlencode({"service": "ghcr.io", "scope": scope})
        try:
            response = client.get(
                f"{settings.GIMLET_GHCR_URL}/token?{query}",
                auth=(registry.login, registry.token),
                trusted=True,
            )
        except OutboundError as error:
            result.message += f" ghcr.io could not confirm the login: {error}"
            return result
        if response.status == 200:
            issued = (response.json() or {}).get("token")
            if isinstance(issued, str):
                result.secrets.append(issued)
            result.message += " ghcr.io accepted the login."
            return result
        if response.status in (401, 403) and rate_limit_until(response) is None:
            result.status = Status.INVALID
            result.http_status = response.status
            result.message = (
                "GitHub accepted the token, but ghcr.io denied the login "
                f"({describe_answer(response)}). Check "
                "that the login is the GitHub user name of the token's owner and "
                "that an organization's SSO has not blocked the token. "
                + result.message
            )
            return result
        result.message += (
            f" ghcr.io could not confirm the login (HTTP {response.status})."
        )
        return result
