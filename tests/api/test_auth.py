"""Token exchange, session authentication and the token throttle."""

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
PASSWORD = "pw-for-tests-1"


@pytest.fixture
def user(db):
    return UserFactory(username="ci-bot")


@pytest.fixture
def low_rates(monkeypatch):
    # DRF reads THROTTLE_RATES once at import, so override_settings would
    # not reach it.
    rates = {**ScopedRateThrottle.THROTTLE_RATES, "auth-token": "3/minute"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)


def test_token_exchange(user):
    response = APIClient().post(
        TOKEN_URL, {"username": "ci-bot", "password": PASSWORD}, format="json"
    )
    token = response.json()["token"]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    assert client.get("/api/v1/tenants/").status_code == 200


def test_token_exchange_accepts_form(user):
    response = APIClient().post(TOKEN_URL, {"username": "ci-bot", "password": PASSWORD})

    assert response.status_code == 200


def test_token_is_stable(user):
    first = APIClient().post(
        TOKEN_URL, {"username": "ci-bot", "password": PASSWORD}, format="json"
    )
    second = APIClient().post(
        TOKEN_URL, {"username": "ci-bot", "password": PASSWORD}, format="json"
    )

    assert first.json() == second.json()


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ci-bot", "password": "wrong"},
        {"username": "nobody", "password": PASSWORD},
        {"username": "ci-bot"},
        {},
    ],
)
def test_token_exchange_rejects(body, user):
    response = APIClient().post(TOKEN_URL, body, format="json")

    assert response.status_code == 400
    assert "token" not in response.json()


def test_inactive_user_gets_no_token(user):
    user.is_active = False
    user.save()

    response = APIClient().post(
        TOKEN_URL, {"username": "ci-bot", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 400


def test_token_requests_are_throttled(user, low_rates):
    client = APIClient()
    body = {"username": "ci-bot", "password": "wrong"}

    statuses = [
        client.post(TOKEN_URL, body, format="json").status_code for _ in range(4)
    ]
    last = client.post(TOKEN_URL, {**body, "password": PASSWORD}, format="json")

    assert statuses == [400, 400, 400, 429]
    assert last.status_code == 429
    assert "Retry-After" in last.headers


def test_forwarded_for_does_not_reset_throttle(user, low_rates):
    """A client cannot pick a new address with its own X-Forwarded-For."""
    client = APIClient()
    body = {"username": "ci-bot", "password": "wrong"}
    for _ in range(3):
        client.post(TOKEN_URL, body, format="json")

    response = client.post(
        TOKEN_URL, body, format="json", HTTP_X_FORWARDED_FOR="203.0.113.9"
    )

    assert response.status_code == 429


def test_session_authentication(world_a):
    client = APIClient()
    client.login(username=world_a.admin.username, password=PASSWORD)

    response = client.get("/api/v1/registries/")

    assert response.status_code == 200
    assert response.json()["count"] == len(world_a.registries)


def test_session_write_needs_csrf(world_a):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username=world_a.admin.username, password=PASSWORD)

    response = client.post(
        "/api/v1/environments/",
        {"tenant": world_a.tenant.slug, "name": "production"},
        format="json",
    )

    assert response.status_code == 403


@pytest.mark.parametrize(
    "header", ["Token nope", "Token ", "Bearer abc", "Token a b", "Token \x00"]
)
def test_bad_token_is_unauthorized(header, world_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/registries/")

    assert response.status_code == 401
