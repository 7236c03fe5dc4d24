"""Docker Hub checks, one case per row of the decision table.

Bodies follow what auth.docker.io is reported to send: {"details": "..."}
with "incorrect username or password", "personal access token is expired",
"insufficient scopes" or "must log in with a Personal Access Token".
"""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
import responses
import time_machine

from registries.models import Status
from registries.validators import validator_for
from registries.validators.dockerhub import granted_scopes, jwt_claims
from tests.factories import RegistryFactory

AUTH = "https://auth.docker.test"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def dockerhub_url(settings):
    settings.GIMLET_DOCKERHUB_AUTH_URL = AUTH


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def registry():
    return RegistryFactory(dockerhub=True, login="dockeruser")


def unsigned_jwt(claims):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def check(registry):
    return validator_for(registry.kind).validate(registry)


def test_request_asks_for_pull_only(mocked, registry):
    mocked.get(f"{AUTH}/token", json={"token": "opaque"})

    check(registry)

    request = mocked.calls[0].request
    assert "service=registry.docker.io" in request.url
    assert "scope=repository%3Adockeruser%2Fgimlet-credential-check%3Apull" in (
        request.url
    )
    assert "push" not in request.url
    expected = base64.b64encode(f"dockeruser:{registry.token}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


def test_token_is_valid_with_granted_scope(mocked, registry):
    issued = unsigned_jwt(
        {
            "access": [
                {
                    "type": "repository",
                    "name": "dockeruser/gimlet-credential-check",
                    "actions": ["pull"],
                }
            ]
        }
    )
    mocked.get(f"{AUTH}/token", json={"token": issued, "access_token": issued})

    result = check(registry)

    assert result.status == Status.VALID
    assert result.scopes == ["repository:dockeruser/gimlet-credential-check:pull"]


def test_opaque_token_is_valid_with_unknown_scope(mocked, registry):
    mocked.get(f"{AUTH}/token", json={"token": "not-a-jwt"})

    result = check(registry)

    assert result.status == Status.VALID
    assert result.scopes is None


@pytest.mark.parametrize(
    ("details", "status"),
    [
        ("incorrect username or password", Status.INVALID),
        ("personal access token is expired", Status.EXPIRED),
        ("insufficient scopes", Status.INSUFFICIENT_SCOPE),
        ("must log in with a Personal Access Token", Status.INVALID),
    ],
)
def test_unauthorized_bodies(mocked, registry, details, status):
    mocked.get(f"{AUTH}/token", status=401, json={"details": details})

    result = check(registry)

    assert result.status == status
    assert result.http_status == 401


def test_password_stored_says_so(mocked, registry):
    mocked.get(
        f"{AUTH}/token",
        status=401,
        json={"details": "must log in with a Personal Access Token"},
    )

    result = check(registry)

    assert "password" in result.message
    assert "personal access token" in result.message


def test_unknown_401_body_is_invalid(mocked, registry):
    mocked.get(f"{AUTH}/token", status=401, body="unauthorized")

    result = check(registry)

    assert result.status == Status.INVALID


@time_machine.travel(NOW, tick=False)
def test_429_honours_retry_after(mocked, registry):
    mocked.get(
        f"{AUTH}/token",
        status=429,
        json={"details": "too many requests"},
        headers={"Retry-After": "90"},
    )

    result = check(registry)

    assert result.status == Status.UNREACHABLE
    assert result.retry_after == NOW + timedelta(seconds=90)


@time_machine.travel(NOW, tick=False)
def test_retry_after_as_http_date(mocked, registry):
    mocked.get(
        f"{AUTH}/token",
        status=429,
        headers={"Retry-After": "Mon, 01 Jun 2026 12:30:00 GMT"},
    )

    result = check(registry)

    assert result.retry_after == NOW + timedelta(minutes=30)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_unreachable(mocked, registry, status):
    mocked.get(f"{AUTH}/token", status=status, body="")

    result = check(registry)

    assert result.status == Status.UNREACHABLE


def test_unexpected_403_is_not_invalid(mocked, registry):
    mocked.get(f"{AUTH}/token", status=403, json={"details": "forbidden"})

    result = check(registry)

    assert result.status == Status.CONFIG_ERROR


def test_expiry_is_left_to_the_user(mocked, registry):
    mocked.get(f"{AUTH}/token", json={"token": "opaque"})

    result = check(registry)

    assert not result.expiry_read


class TestClaims:
    def test_claims_of_unsigned_token(self):
        assert jwt_claims(unsigned_jwt({"sub": "x"})) == {"sub": "x"}

    @pytest.mark.parametrize("token", [None, "", "a.b", "a.!!!.c", "a.bnVsbA.c"])
    def test_malformed_tokens(self, token):
        assert jwt_claims(token) is None

    def test_scopes_join_actions(self):
        claims = {
            "access": [
                {"type": "repository", "name": "a/b", "actions": ["pull", "push"]}
            ]
        }

        assert granted_scopes(claims) == ["repository:a/b:pull,push"]
