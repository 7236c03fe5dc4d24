"""GitHub Container Registry checks, one case per row of the decision table.

Responses carry the headers and bodies GitHub documents: X-OAuth-Scopes,
GitHub-Authentication-Token-Expiration, x-ratelimit-* and retry-after, and
{"message": ...} bodies ("Bad credentials", secondary rate limit text).
"""

from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
import time_machine
from django.utils import timezone

from registries.models import Status
from registries.validators import validator_for
from registries.validators.github import parse_token_expiry
from tests.factories import RegistryFactory

API = "https://api.github.test"
GHCR = "https://ghcr.github.test"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def github_urls(settings):
    settings.GIMLET_GITHUB_API_URL = API
    settings.GIMLET_GHCR_URL = GHCR
    settings.GIMLET_GHCR_CHECK = False


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def registry():
    return RegistryFactory(ghcr=True, login="octocat")


def user(
    mocked, status=200, *, scopes="repo, write:packages", login="octocat", **headers
):
    if scopes is not None:
        headers["X-OAuth-Scopes"] = scopes
    body = (
        {"login": login, "id": 1} if status == 200 else {"message": "Bad credentials"}
    )
    mocked.get(f"{API}/user", status=status, json=body, headers=headers)


def check(registry):
    return validator_for(registry.kind).validate(registry)


class TestAccepted:
    def test_push_and_repo_scopes_are_valid(self, mocked, registry):
        user(mocked)

        result = check(registry)

        assert result.status == Status.VALID
        assert result.http_status == 200
        assert result.scopes == ["repo", "write:packages"]

    def test_missing_write_packages_is_insufficient(self, mocked, registry):
        user(mocked, scopes="repo, read:packages")

        result = check(registry)

        assert result.status == Status.INSUFFICIENT_SCOPE
        assert "write:packages" in result.message
        assert result.scopes == ["read:packages", "repo"]

    def test_missing_repo_stays_valid_with_note(self, mocked, registry):
        user(mocked, scopes="write:packages")

        result = check(registry)

        assert result.status == Status.VALID
        assert "private repositories" in result.message

    def test_no_scopes_is_insufficient(self, mocked, registry):
        user(mocked, scopes="")

        result = check(registry)

        assert result.status == Status.INSUFFICIENT_SCOPE
        assert "none" in result.message

    def test_missing_scopes_header_is_not_classic(self, mocked, registry):
        user(mocked, scopes=None)

        result = check(registry)

        assert result.status == Status.INSUFFICIENT_SCOPE
        assert "not a classic personal access token" in result.message

    def test_other_login_is_named(self, mocked, registry):
        user(mocked, login="hubot")

        result = check(registry)

        assert result.status == Status.VALID
        assert "belongs to GitHub user hubot, not octocat" in result.message

    def test_login_compares_case_insensitively(self, mocked, registry):
        user(mocked, login="OctoCat")

        result = check(registry)

        assert "belongs to" not in result.message

    def test_request_headers(self, mocked, registry):
        user(mocked)

        check(registry)

        sent = mocked.calls[0].request.headers
        assert sent["Authorization"] == f"Bearer {registry.token}"
        assert sent["Accept"] == "application/vnd.github+json"
        assert sent["X-GitHub-Api-Version"] == "2022-11-28"
        assert sent["User-Agent"].startswith("gimlet-registries/")

    def test_enterprise_server_base_url(self, mocked, registry, settings):
        settings.GIMLET_GITHUB_API_URL = "https://ghe.example.test/api/v3"
        mocked.get(
            "https://ghe.example.test/api/v3/user",
            json={"login": "octocat"},
            headers={"X-OAuth-Scopes": "repo, write:packages"},
        )

        result = check(registry)

        assert result.status == Status.VALID


class TestExpiryHeader:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("2026-12-31 23:59:59 UTC", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
            (
                "2026-12-31 23:59:59 +0000",
                datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
            ),
            (
                "2026-12-31 15:59:59 -0800",
                datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
            ),
            ("2027-03-31 09:00:00 +0900", datetime(2027, 3, 31, 0, 0, tzinfo=UTC)),
            ("2026-06-30 13:05:00 UTC", datetime(2026, 6, 30, 13, 5, tzinfo=UTC)),
            ("2026-06-30 00:30:00 +05:30", datetime(2026, 6, 29, 19, 0, tzinfo=UTC)),
        ],
    )
    def test_formats(self, value, expected):
        assert parse_token_expiry(value) == expected

    @pytest.mark.parametrize(
        "value",
        [
            "next Tuesday",
            "2026-12-31",
            "2026-12-31 25:00:00 UTC",
            "2026-02-30 10:00:00 UTC",
        ],
    )
    def test_unparsable_is_none(self, value):
        assert parse_token_expiry(value) is None

    def test_expiry_is_read(self, mocked, registry):
        user(
            mocked,
            **{"GitHub-Authentication-Token-Expiration": "2026-12-31 23:59:59 UTC"},
        )

        result = check(registry)

        assert result.expiry_read
        assert result.expires_at == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
        assert "2026-12-31 23:59 UTC" in result.message

    def test_absent_header_means_no_expiry(self, mocked, registry):
        user(mocked)

        result = check(registry)

        assert result.expiry_read
        assert result.expires_at is None
        assert "no expiry date" in result.message

    def test_unparsable_header_is_unknown_not_expired(self, mocked, registry):
        user(mocked, **{"GitHub-Authentication-Token-Expiration": "soon"})

        result = check(registry)

        assert result.status == Status.VALID
        assert not result.expiry_read
        assert "unknown format" in result.message


class TestRejected:
    def test_bad_credentials_is_invalid(self, mocked, registry):
        user(mocked, status=401)

        result = check(registry)

        assert result.status == Status.INVALID
        assert result.http_status == 401
        assert "Bad credentials" in result.message

    @time_machine.travel(NOW, tick=False)
    def test_primary_rate_limit_403_is_unreachable(self, mocked, registry):
        reset = int((NOW + timedelta(minutes=20)).timestamp())
        mocked.get(
            f"{API}/user",
            status=403,
            json={"message": "API rate limit exceeded for user ID 1."},
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        )

        result = check(registry)

        assert result.status == Status.UNREACHABLE
        assert result.retry_after == NOW + timedelta(minutes=20)

    @time_machine.travel(NOW, tick=False)
    def test_primary_rate_limit_429_is_unreachable(self, mocked, registry):
        reset = int((NOW + timedelta(minutes=5)).timestamp())
        mocked.get(
            f"{API}/user",
            status=429,
            json={"message": "API rate limit exceeded."},
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        )

        result = check(registry)

        assert result.status == Status.UNREACHABLE
        assert result.retry_after == NOW + timedelta(minutes=5)

    @time_machine.travel(NOW, tick=False)
    @pytest.mark.parametrize("status", [403, 429])
    def test_retry_after_is_unreachable(self, mocked, registry, status):
        mocked.get(
            f"{API}/user",
            status=status,
            json={"message": "You have exceeded a secondary rate limit."},
            headers={"retry-after": "120"},
        )

        result = check(registry)

        assert result.status == Status.UNREACHABLE
        assert result.retry_after == NOW + timedelta(seconds=120)

    @time_machine.travel(NOW, tick=False)
    def test_secondary_rate_limit_message_is_unreachable(self, mocked, registry):
        mocked.get(
            f"{API}/user",
            status=403,
            json={
                "message": "You have exceeded a secondary rate limit. Please wait "
                "a few minutes before you try again."
            },
        )

        result = check(registry)

        assert result.status == Status.UNREACHABLE
        assert result.retry_after == NOW + timedelta(minutes=1)

    @time_machine.travel(NOW, tick=False)
    def test_bare_429_is_unreachable(self, mocked, registry):
        mocked.get(f"{API}/user", status=429, body="")

        result = check(registry)

        assert result.status == Status.UNREACHABLE
        assert result.retry_after == NOW + timedelta(minutes=1)

    def test_plain_403_is_not_invalid(self, mocked, registry):
        """A 403 without rate-limit headers or message proves nothing of the token."""
        mocked.get(f"{API}/user", status=403, json={"message": "Forbidden"})

        result = check(registry)

        assert result.status == Status.CONFIG_ERROR
        assert result.http_status == 403

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_server_errors_are_unreachable(self, mocked, registry, status):
        mocked.get(f"{API}/user", status=status, body="")

        result = check(registry)

        assert result.status == Status.UNREACHABLE
        assert result.http_status == status

    def test_network_error_is_unreachable(self, mocked, registry):
        mocked.get(f"{API}/user", body=requests.exceptions.ConnectionError("reset"))

        result = check(registry)

        assert result.status == Status.UNREACHABLE

    def test_wrong_api_url_is_config_error(self, mocked, registry):
        mocked.get(f"{API}/user", status=404, json={"message": "Not Found"})

        result = check(registry)

        assert result.status == Status.CONFIG_ERROR
        assert "GIMLET_GITHUB_API_URL" in result.message

    def test_retry_after_is_capped(self, mocked, registry):
        mocked.get(f"{API}/user", status=429, headers={"retry-after": "99999999"})

        result = check(registry)

        assert result.retry_after <= timezone.now() + timedelta(hours=24, seconds=5)


@pytest.fixture
def ghcr_check(settings):
    settings.GIMLET_GHCR_CHECK = True


@pytest.mark.usefixtures("ghcr_check")
class TestRegistrySide:
    def test_ghcr_accepting_keeps_valid(self, mocked, registry):
        user(mocked)
        mocked.get(f"{GHCR}/token", json={"token": "djE6b2N0b2NhdC9naW1sZXQ="})

        result = check(registry)

        assert result.status == Status.VALID
        assert "ghcr.io accepted the login" in result.message

    def test_ghcr_request(self, mocked, registry):
        user(mocked)
        mocked.get(f"{GHCR}/token", json={"token": "djE6b2N0b2NhdC9naW1sZXQ="})

        check(registry)

        request = mocked.calls[1].request
        assert "service=ghcr.io" in request.url
        assert "scope=repository%3Aoctocat%2Fgimlet-credential-check%3Apull" in (
            request.url
        )
        assert request.headers["Authorization"].startswith("Basic ")

    def test_ghcr_403_denied_is_invalid(self, mocked, registry):
        user(mocked)
        mocked.get(
            f"{GHCR}/token",
            status=403,
            json={"errors": [{"code": "DENIED", "message": "denied"}]},
        )

        result = check(registry)

        assert result.status == Status.INVALID
        assert result.http_status == 403
        assert "ghcr.io denied the login" in result.message

    def test_ghcr_outage_keeps_github_verdict(self, mocked, registry):
        user(mocked)
        mocked.get(f"{GHCR}/token", status=503, body="")

        result = check(registry)

        assert result.status == Status.VALID
        assert "could not confirm" in result.message

    def test_insufficient_scope_skips_ghcr(self, mocked, registry):
        user(mocked, scopes="repo")

        check(registry)

        assert len(mocked.calls) == 1

    def test_check_can_be_turned_off(self, mocked, registry, settings):
        settings.GIMLET_GHCR_CHECK = False
        user(mocked)

        check(registry)

        assert len(mocked.calls) == 1
