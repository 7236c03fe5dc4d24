"""Custom registry checks, one case per row of the decision table.

Responses follow the CNCF distribution registry: the
Docker-Distribution-API-Version header, WWW-Authenticate challenges, and
{"errors": [{"code": ..., "message": ...}]} bodies. TLS cases run against
the real registry in test_check_real_registry.py.
"""

from datetime import UTC, datetime, timedelta

import pytest
import responses
import time_machine

from registries.models import Status
from registries.validators import validator_for
from registries.validators.custom import Challenge, parse_challenges
from tests.factories import RegistryFactory

URL = "https://registry.example.test"
V2 = f"{URL}/v2/"
REALM = "https://auth.example.test/token"
API_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}
UNAUTHORIZED = {
    "errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]
}
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def registry():
    return RegistryFactory(custom=True, url=URL, login="robot")


def anonymous_only():
    """Match requests that carry no Authorization header."""

    def match(request):
        present = "Authorization" in request.headers
        return (not present, "has an Authorization header" if present else "")

    return match


def with_authorization(prefix):
    def match(request):
        value = request.headers.get("Authorization", "")
        return (value.startswith(prefix), f"Authorization is not {prefix}…")

    return match


def check(registry):
    return validator_for(registry.kind).validate(registry)


class TestAnonymous:
    def test_open_registry_says_credentials_are_unchecked(self, mocked, registry):
        mocked.get(V2, json={}, headers=API_HEADER)

        result = check(registry)

        assert result.status == Status.VALID
        assert "does not check them" in result.message

    def test_404_is_config_error(self, mocked, registry):
        mocked.get(V2, status=404, body="not found")

        result = check(registry)

        assert result.status == Status.CONFIG_ERROR
        assert result.http_status == 404

    def test_missing_api_version_header_is_config_error(self, mocked, registry):
        mocked.get(V2, body="<html>welcome</html>")

        result = check(registry)

        assert result.status == Status.CONFIG_ERROR
        assert "Docker-Distribution-API-Version" in result.message

    @time_machine.travel(NOW, tick=False)
    def test_429_honours_retry_after(self, mocked, registry):
        mocked.get(V2, status=429, headers={**API_HEADER, "Retry-After": "30"}, json={})

        result = check(registry)

        assert result.status == Status.UNREACHABLE
        assert result.retry_after == NOW + timedelta(seconds=30)

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_server_errors_are_unreachable(self, mocked, registry, status):
        mocked.get(V2, status=status, body="")

        result = check(registry)

        assert result.status == Status.UNREACHABLE

    def test_path_in_url_is_kept(self, mocked):
        registry = RegistryFactory(custom=True, url=f"{URL}/mirror", login="robot")
        mocked.get(f"{URL}/mirror/v2/", json={}, headers=API_HEADER)

        result = check(registry)

        assert result.status == Status.VALID

    def test_unknown_challenge_is_config_error(self, mocked, registry):
        mocked.get(
            V2,
            status=401,
            headers={**API_HEADER, "WWW-Authenticate": 'Negotiate realm="x"'},
        )

        result = check(registry)

        assert result.status == Status.CONFIG_ERROR


class TestBasic:
    @pytest.mark.parametrize(
        "header", ['Basic realm="Registry Realm"', 'Basic realm="r",service="reg"']
    )
    def test_accepted_login_is_valid(self, mocked, registry, header):
        mocked.get(
            V2, json={}, headers=API_HEADER, match=[with_authorization("Basic ")]
        )
        mocked.get(
            V2,
            status=401,
            headers={**API_HEADER, "WWW-Authenticate": header},
            match=[anonymous_only()],
        )

        result = check(registry)

        assert result.status == Status.VALID
        assert len(mocked.calls) == 2

    def test_rejected_login_is_invalid(self, mocked, registry):
        mocked.get(
            V2,
            status=401,
            json=UNAUTHORIZED,
            headers={**API_HEADER, "WWW-Authenticate": 'Basic realm="Registry"'},
        )

        result = check(registry)

        assert result.status == Status.INVALID
        assert result.http_status == 401

    def test_retry_with_credentials_hitting_503_is_unreachable(self, mocked, registry):
        mocked.get(V2, status=503, body="", match=[with_authorization("Basic ")])
        mocked.get(
            V2,
            status=401,
            headers={**API_HEADER, "WWW-Authenticate": 'Basic realm="r"'},
            match=[anonymous_only()],
        )

        result = check(registry)

        assert result.status == Status.UNREACHABLE


def bearer_challenge(mocked, params=f'realm="{REALM}",service="registry.example.test"'):
    mocked.get(
        V2,
        status=401,
        json=UNAUTHORIZED,
        headers={**API_HEADER, "WWW-Authenticate": f"Bearer {params}"},
        match=[anonymous_only()],
    )


class TestBearer:
    def test_token_from_realm_is_valid(self, mocked, registry):
        bearer_challenge(mocked)
        mocked.get(REALM, json={"token": "issued-token-1"})
        mocked.get(
            V2,
            json={},
            headers=API_HEADER,
            match=[with_authorization("Bearer issued-token-1")],
        )

        result = check(registry)

        assert result.status == Status.VALID
        assert result.http_status == 200

    def test_realm_request_has_service_account_and_basic(self, mocked, registry):
        bearer_challenge(mocked)
        mocked.get(REALM, json={"token": "issued-token-1"})
        mocked.get(
            V2, json={}, headers=API_HEADER, match=[with_authorization("Bearer ")]
        )

        check(registry)

        realm_request = mocked.calls[1].request
        assert "service=registry.example.test" in realm_request.url
        assert "account=robot" in realm_request.url
        assert realm_request.headers["Authorization"].startswith("Basic ")

    def test_realm_without_service_sends_account(self, mocked, registry):
        bearer_challenge(mocked, params=f'realm="{REALM}"')
        mocked.get(REALM, json={"access_token": "issued-token-1"})
        mocked.get(
            V2, json={}, headers=API_HEADER, match=[with_authorization("Bearer ")]
        )

        result = check(registry)

        assert result.status == Status.VALID
        assert "service=" not in mocked.calls[1].request.url
        assert "account=robot" in mocked.calls[1].request.url

    def test_challenge_scope_is_passed_on(self, mocked, registry):
        bearer_challenge(
            mocked,
            params=f'realm="{REALM}",service="reg",scope="registry:catalog:*"',
        )
        mocked.get(REALM, json={"token": "issued-token-1"})
        mocked.get(
            V2, json={}, headers=API_HEADER, match=[with_authorization("Bearer ")]
        )

        check(registry)

        assert "scope=registry%3Acatalog%3A%2A" in mocked.calls[1].request.url

    def test_realm_401_is_invalid(self, mocked, registry):
        bearer_challenge(mocked)
        mocked.get(REALM, status=401, json=UNAUTHORIZED)

        result = check(registry)

        assert result.status == Status.INVALID
        assert "auth.example.test" in result.message

    def test_realm_403_denied_is_invalid(self, mocked, registry):
        bearer_challenge(mocked)
        mocked.get(
            REALM,
            status=403,
            json={"errors": [{"code": "DENIED", "message": "denied"}]},
        )

        result = check(registry)

        assert result.status == Status.INVALID

    def test_realm_plain_403_is_not_invalid(self, mocked, registry):
        bearer_challenge(mocked)
        mocked.get(REALM, status=403, body="forbidden")

        result = check(registry)

        assert result.status == Status.CONFIG_ERROR

    def test_realm_downgraded_to_http_sends_nothing(self, mocked, registry):
        bearer_challenge(mocked, params='realm="http://auth.example.test/token"')

        result = check(registry)

        assert result.status == Status.CONFIG_ERROR
        assert "plain http" in result.message
        assert len(mocked.calls) == 1

    def test_relative_realm_is_config_error(self, mocked, registry):
        bearer_challenge(mocked, params='realm="/token"')

        result = check(registry)

        assert result.status == Status.CONFIG_ERROR
        assert len(mocked.calls) == 1

    def test_realm_without_token_is_config_error(self, mocked, registry):
        bearer_challenge(mocked)
        mocked.get(REALM, json={"expires_in": 60})

        result = check(registry)

        assert result.status == Status.CONFIG_ERROR

    @time_machine.travel(NOW, tick=False)
    def test_realm_429_is_unreachable(self, mocked, registry):
        bearer_challenge(mocked)
        mocked.get(REALM, status=429, headers={"Retry-After": "15"})

        result = check(registry)

        assert result.status == Status.UNREACHABLE
        assert result.retry_after == NOW + timedelta(seconds=15)

    def test_realm_5xx_is_unreachable(self, mocked, registry):
        bearer_challenge(mocked)
        mocked.get(REALM, status=502, body="")

        result = check(registry)

        assert result.status == Status.UNREACHABLE

    def test_issued_token_rejected_is_config_error(self, mocked, registry):
        bearer_challenge(mocked)
        mocked.get(REALM, json={"token": "issued-token-1"})
        mocked.get(
            V2,
            status=401,
            json=UNAUTHORIZED,
            headers=API_HEADER,
            match=[with_authorization("Bearer ")],
        )

        result = check(registry)

        assert result.status == Status.CONFIG_ERROR
        assert "rejected the token it issued" in result.message

    def test_issued_token_stays_out_of_message(self, mocked, registry):
        bearer_challenge(mocked)
        mocked.get(REALM, json={"token": "issued-token-secret-1"})
        mocked.get(
            V2,
            status=400,
            json={"errors": [{"code": "X", "message": "bad issued-token-secret-1"}]},
            match=[with_authorization("Bearer ")],
        )

        result = check(registry)

        assert "issued-token-secret-1" not in result.message


class TestChallengeParser:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            (
                'Basic realm="Registry Realm"',
                [Challenge("basic", {"realm": "Registry Realm"})],
            ),
            (
                'Bearer realm="https://a.test/token",service="a.test",scope="repository:x:pull,push"',
                [
                    Challenge(
                        "bearer",
                        {
                            "realm": "https://a.test/token",
                            "service": "a.test",
                            "scope": "repository:x:pull,push",
                        },
                    )
                ],
            ),
            (
                'Bearer realm="https://a.test/t", Basic realm="b"',
                [
                    Challenge("bearer", {"realm": "https://a.test/t"}),
                    Challenge("basic", {"realm": "b"}),
                ],
            ),
            ("BASIC realm=plain", [Challenge("basic", {"realm": "plain"})]),
            ('Basic realm="say \\"hi\\""', [Challenge("basic", {"realm": 'say "hi"'})]),
            ("Basic", [Challenge("basic", {})]),
            ("", []),
        ],
    )
    def test_parses(self, header, expected):
        assert parse_challenges(header) == expected

    def test_garbage_ends(self):
        assert isinstance(parse_challenges('=,,"'), list)
