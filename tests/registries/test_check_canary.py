"""A canary token run through every check path at DEBUG log level.

Each case stores a token with a unique marker and checks it over real HTTP
against local fakes, some of which echo the token back. The test then looks
for the marker in every log record, check message, Check row, audit event
and exception text.
"""

import base64
import logging
import secrets
import string
import traceback

import pytest

from gimlet.models import AuditEvent
from registries.checking import registry_check
from registries.models import Check, Trigger
from tests.factories import RegistryFactory
from tests.servers import FakeServer, Reply, basic_credentials

MARKER = "CANARY"

pytestmark = pytest.mark.django_db


def canary_github_token():
    alphabet = string.ascii_letters + string.digits
    tail = "".join(secrets.choice(alphabet) for _ in range(36 - len(MARKER)))
    return f"ghp_{MARKER}{tail}"


def canary_dockerhub_token():
    return f"dckr_pat_{MARKER}{secrets.token_hex(10)}"


def canary_password():
    return f"{MARKER}-{secrets.token_urlsafe(16)}"


def echo_authorization(status, extra_headers=None):
    """Return a reply whose body repeats the request's credentials."""

    def reply(handler):
        credentials = basic_credentials(handler)
        return Reply(
            status,
            extra_headers or {},
            {
                "message": f"seen {handler.headers.get('Authorization')}",
                "details": f"bad password {credentials[1] if credentials else ''}",
            },
        )

    return reply


@pytest.fixture
def fake(settings, allow_loopback):
    with FakeServer() as server:
        settings.GIMLET_GITHUB_API_URL = server.url
        settings.GIMLET_GHCR_URL = server.url
        settings.GIMLET_DOCKERHUB_AUTH_URL = server.url
        settings.GIMLET_GHCR_CHECK = True
        yield server


@pytest.fixture
def tls_fake(pki, allow_loopback):
    with FakeServer(pki.good) as server:
        yield server


@pytest.fixture
def captured(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def scopes_ok(handler):
    return Reply(
        200,
        {
            "X-OAuth-Scopes": "repo, write:packages",
            "GitHub-Authentication-Token-Expiration": "2030-01-01 00:00:00 UTC",
        },
        {"login": "octocat"},
    )


GITHUB_CASES = {
    "valid": {"/user": scopes_ok, "/token": Reply(200, body={"token": "issued-gh"})},
    "bad credentials": {"/user": echo_authorization(401)},
    "rate limited": {
        "/user": echo_authorization(403, {"x-ratelimit-remaining": "0"}),
    },
    "plain 403": {"/user": echo_authorization(403)},
    "server error": {"/user": echo_authorization(502)},
    "ghcr denied": {"/user": scopes_ok, "/token": echo_authorization(403)},
    "not found": {},
}

DOCKERHUB_CASES = {
    "valid": {"/token": Reply(200, body={"token": "a.eyJhY2Nlc3MiOltdfQ.c"})},
    "incorrect password": {"/token": echo_authorization(401)},
    "expired": {
        "/token": Reply(401, body={"details": "personal access token is expired"})
    },
    "rate limited": {"/token": echo_authorization(429, {"Retry-After": "5"})},
    "server error": {"/token": echo_authorization(500)},
}

API = {"Docker-Distribution-API-Version": "registry/2.0"}


def basic_registry(password):
    def v2(handler):
        credentials = basic_credentials(handler)
        if credentials is None:
            return Reply(401, {**API, "WWW-Authenticate": 'Basic realm="r"'})
        if credentials[1] == password:
            return Reply(200, API, {})
        return echo_authorization(401, API)(handler)

    return v2


def bearer_registry(password, realm):
    def v2(handler):
        value = handler.headers.get("Authorization", "")
        if value == "Bearer issued-for-canary":
            return Reply(200, API, {})
        return Reply(
            401,
            {**API, "WWW-Authenticate": f'Bearer realm="{realm}",service="s"'},
            {"errors": [{"code": "UNAUTHORIZED", "message": f"seen {value}"}]},
        )

    return v2


def token_endpoint(password):
    def token(handler):
        credentials = basic_credentials(handler)
        if credentials and credentials[1] == password:
            return Reply(200, body={"token": "issued-for-canary"})
        return echo_authorization(401)(handler)

    return token


def forms_of(secret, login):
    """The secret as sent: plain, and inside a Basic authorization value."""
    basic = base64.b64encode(f"{login}:{secret}".encode()).decode()
    return [secret, MARKER, basic]


def assert_no_canary(secret, captured, registry, raised=None):
    forms = forms_of(secret, registry.login)
    for record in captured.records:
        text = record.getMessage()
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        for form in forms:
            assert form not in text, f"log record {record.name}: {text[:200]}"
    registry.refresh_from_db()
    texts = [registry.status_message]
    texts += [check.message for check in Check.objects.filter(registry=registry)]
    texts += [
        f"{event.changes} {event.target_repr}" for event in AuditEvent.objects.all()
    ]
    if raised is not None:
        texts.append("".join(traceback.format_exception(raised)))
    for text in texts:
        for form in forms:
            assert form not in text, text[:200]


def run(registry):
    try:
        registry_check(registry_id=registry.pk, trigger=Trigger.MANUAL)
    except Exception as error:  # noqa: BLE001 - the text is inspected below.
        return error
    return None


@pytest.mark.parametrize("case", GITHUB_CASES)
def test_github_paths(case, fake, captured):
    fake.routes.update(GITHUB_CASES[case])
    token = canary_github_token()
    registry = RegistryFactory(ghcr=True, login="octocat", token=token)

    raised = run(registry)

    assert_no_canary(token, captured, registry, raised)
    assert Check.objects.filter(registry=registry).count() == 1


def test_github_unreachable(settings, captured):
    settings.GIMLET_GITHUB_API_URL = "http://127.0.0.1:9"
    token = canary_github_token()
    registry = RegistryFactory(ghcr=True, login="octocat", token=token)

    raised = run(registry)

    assert_no_canary(token, captured, registry, raised)


@pytest.mark.parametrize("case", DOCKERHUB_CASES)
def test_dockerhub_paths(case, fake, captured):
    fake.routes.update(DOCKERHUB_CASES[case])
    token = canary_dockerhub_token()
    registry = RegistryFactory(dockerhub=True, login="dockeruser", token=token)

    raised = run(registry)

    assert_no_canary(token, captured, registry, raised)


class TestCustomPaths:
    def test_basic_valid(self, tls_fake, pki, captured):
        password = canary_password()
        tls_fake.routes["/v2/"] = basic_registry(password)
        registry = self.registry(tls_fake, pki, password)

        raised = run(registry)

        assert_no_canary(password, captured, registry, raised)

    def test_basic_invalid_with_echo(self, tls_fake, pki, captured):
        password = canary_password()
        tls_fake.routes["/v2/"] = basic_registry("another-password")
        registry = self.registry(tls_fake, pki, password)

        raised = run(registry)

        assert_no_canary(password, captured, registry, raised)

    @pytest.mark.parametrize("accepted", [True, False])
    def test_bearer(self, tls_fake, pki, captured, accepted):
        password = canary_password()
        realm = f"{tls_fake.url}/token"
        tls_fake.routes["/v2/"] = bearer_registry(password, realm)
        tls_fake.routes["/token"] = token_endpoint(password if accepted else "other")
        registry = self.registry(tls_fake, pki, password)

        raised = run(registry)

        assert_no_canary(password, captured, registry, raised)
        assert "issued-for-canary" not in registry.status_message

    def test_realm_downgrade(self, tls_fake, pki, captured):
        password = canary_password()
        tls_fake.routes["/v2/"] = bearer_registry(password, "http://127.0.0.1:9/token")
        registry = self.registry(tls_fake, pki, password)

        raised = run(registry)

        assert_no_canary(password, captured, registry, raised)

    def test_tls_error(self, tls_fake, captured):
        password = canary_password()
        registry = RegistryFactory(custom=True, url=tls_fake.url, token=password)

        raised = run(registry)

        assert_no_canary(password, captured, registry, raised)

    def test_address_refused(self, tls_fake, pki, captured, settings):
        settings.GIMLET_REGISTRY_ALLOWED_NETWORKS = []
        password = canary_password()
        registry = self.registry(tls_fake, pki, password)

        raised = run(registry)

        assert_no_canary(password, captured, registry, raised)

    @staticmethod
    def registry(server, pki, password):
        return RegistryFactory(
            custom=True, url=server.url, token=password, certificate=pki.ca.cert_pem
        )


def test_debug_records_were_captured(fake, captured):
    """The canary cases would be empty if DEBUG records were not captured."""
    fake.routes.update(GITHUB_CASES["valid"])
    registry = RegistryFactory(ghcr=True, login="octocat", token=canary_github_token())

    run(registry)

    assert any(record.levelno == logging.DEBUG for record in captured.records)
    assert any(record.name.startswith("urllib3") for record in captured.records)
