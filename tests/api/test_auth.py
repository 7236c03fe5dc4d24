"""Token exchange and lookup, session authentication and the token throttle."""

from datetime import datetime

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from gimlet.api.authentication import TokenAuthentication
from gimlet.models import Role
from tests.api.conftest import client_for
from tests.factories import MembershipFactory, UserFactory

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


def test_token_of_inactive_user_is_unauthorized(world_a):
    world_a.member.is_active = False
    world_a.member.save()

    response = client_for(world_a.member).get("/api/v1/registries/")

    assert response.status_code == 401
    assert response.json() == {"detail": "User inactive or deleted."}


def test_deleted_token_is_unauthorized(world_a):
    client = client_for(world_a.admin)
    Token.objects.filter(user=world_a.admin).delete()

    response = client.get("/api/v1/registries/")

    assert response.status_code == 401


def test_token_of_user_without_memberships_sees_nothing(world_a):
    loner = UserFactory(username="loner")

    response = client_for(loner).get("/api/v1/registries/")

    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_token_of_superuser_without_memberships_sees_everything(world_a, world_b):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)

    response = client_for(root).get("/api/v1/registries/")

    assert response.json()["count"] == len(world_a.registries) + len(world_b.registries)


def test_token_reads_roles_of_every_tenant(world_a, world_b):
    """A user in two tenants, admin in one and member in the other."""
    user = UserFactory(username="both")
    MembershipFactory(user=user, tenant=world_a.tenant, role=Role.ADMIN)
    MembershipFactory(user=user, tenant=world_b.tenant, role=Role.MEMBER)
    client = client_for(user)
    body = {"kind": "builtin", "name": "local"}

    in_a = client.post(
        "/api/v1/registries/",
        {**body, "environment": world_a.environment.pk},
        format="json",
    )
    in_b = client.post(
        "/api/v1/registries/",
        {**body, "environment": world_b.environment.pk},
        format="json",
    )

    assert in_a.status_code == 201
    assert in_b.status_code == 403


def test_token_request_returns_the_users_token(world_a):
    """request.auth is the token itself, as DRF's own lookup returns it."""
    token = Token.objects.create(user=UserFactory(username="has-token"))
    authentication = TokenAuthentication()

    user, auth = authentication.authenticate_credentials(token.key)

    assert (user.username, auth.key, auth.user_id) == ("has-token", token.key, user.pk)


def test_token_user_has_the_orms_types():
    """The raw lookup converts columns as the ORM does, on SQLite too."""
    stored = UserFactory(username="typed", is_staff=True)
    token = Token.objects.create(user=stored)

    user, _ = TokenAuthentication().authenticate_credentials(token.key)

    assert isinstance(user.date_joined, datetime)
    assert user.date_joined == stored.date_joined
    assert user.is_staff is True
    assert (user.pk, user.username, user.password) == (
        stored.pk,
        stored.username,
        stored.password,
    )
