"""No API response, JSON or browsable HTML, contains a stored secret.

A custom registry stores a canary token and a canary CA certificate. Every
route is read, and written with the canary in valid and invalid bodies,
and no response may contain either canary. The pull secret is the one
export of credentials, so it must contain the token: that proves the
canary would be seen.
"""

import base64
import secrets

import pytest
from django.urls import reverse

from gimlet.api_urls import router
from tests.api.conftest import client_for
from tests.factories import RegistryFactory, certificate_pem, self_signed_ca

pytestmark = pytest.mark.django_db

CANARY_TOKEN = "canary-" + secrets.token_hex(16)
HTML = {"HTTP_ACCEPT": "text/html"}
EXPORT_ROUTES = {"environment-pull-secret"}


@pytest.fixture
def canary(world_a):
    ca, _ = self_signed_ca("Canary CA")
    pem = certificate_pem(ca)
    registry = RegistryFactory(
        environment=world_a.environment,
        custom=True,
        name="canary",
        url="https://canary.example.test",
        token=CANARY_TOKEN,
        certificate=pem,
    )
    # The middle of the base64 body is unique to this certificate.
    body_line = pem.splitlines()[len(pem.splitlines()) // 2]
    return registry, pem, body_line


def assert_clean(response, canary_values):
    content = response.content.decode(errors="replace")
    for value in canary_values:
        assert value not in content, response.request["PATH_INFO"]
    # A token could also leak base64-encoded, as in a Basic header.
    assert base64.b64encode(CANARY_TOKEN.encode()).decode()[:16] not in content


def route_urls(world_a, registry):
    lookups = {
        "tenant": {"slug": world_a.tenant.slug},
        "member": {
            "tenant_slug": world_a.tenant.slug,
            "username": world_a.member.username,
        },
        "environment": {"pk": world_a.environment.pk},
        "registry": {"pk": registry.pk},
        "imagesettings": {"pk": world_a.image_settings.pk},
    }
    for pattern in router.urls:
        callback = pattern.callback
        basename = getattr(callback, "initkwargs", {}).get("basename")
        kwargs = {
            key: lookups[basename][key] for key in pattern.pattern.regex.groupindex
        }
        yield pattern.name, reverse(pattern.name, kwargs=kwargs)


@pytest.mark.parametrize("role", ["admin", "member", "superuser"])
def test_reads_hide_secrets(role, world_a, canary, superuser):
    registry, pem, body_line = canary
    user = superuser if role == "superuser" else getattr(world_a, role)
    client = client_for(user)
    checked = 0

    for name, url in route_urls(world_a, registry):
        if name in EXPORT_ROUTES:
            continue
        for extra in ({}, HTML):
            for method in ("get", "options"):
                response = getattr(client, method)(url, **extra)
                assert response.status_code < 500, url
                assert_clean(response, [CANARY_TOKEN, body_line])
                checked += 1

    assert checked >= 40


def test_export_contains_canary(world_a, canary, admin_a):
    """The pull secret carries the token, so the canary is detectable."""
    url = f"/api/v1/environments/{world_a.environment.pk}/pull-secret/"

    response = admin_a.get(url)

    assert CANARY_TOKEN in response.content.decode()


def test_schema_and_docs_hide_secrets(canary, admin_a):
    for url in ("/api/v1/schema/", "/api/v1/docs/", "/api/v1/"):
        response = admin_a.get(url)

        assert_clean(response, [CANARY_TOKEN])


WRITE_BODIES = [
    ("valid", {"token": CANARY_TOKEN}),
    ("bad url", {"token": CANARY_TOKEN, "url": "ftp://canary.example.test"}),
    ("bad token", {"token": CANARY_TOKEN + " inner space"}),
    ("bad login", {"token": CANARY_TOKEN, "login": "a:b"}),
    ("bad expiry", {"token": CANARY_TOKEN, "expires_at": "not a date"}),
    ("bad certificate", {"token": CANARY_TOKEN, "certificate": "junk"}),
]


@pytest.mark.parametrize("case,body", WRITE_BODIES, ids=[c for c, _ in WRITE_BODIES])
@pytest.mark.parametrize("method", ["patch", "put"])
def test_updates_hide_secrets(case, body, method, world_a, canary, admin_a):
    registry, pem, body_line = canary
    url = f"/api/v1/registries/{registry.pk}/"

    as_json = getattr(admin_a, method)(url, body, format="json")
    as_html = getattr(admin_a, method)(url, body, **HTML)

    for response in (as_json, as_html):
        assert response.status_code < 500
        assert_clean(response, [CANARY_TOKEN, body_line])


@pytest.mark.parametrize("case,body", WRITE_BODIES, ids=[c for c, _ in WRITE_BODIES])
def test_creates_hide_secrets(case, body, world_a, canary, admin_a):
    registry, pem, body_line = canary
    full = {
        "environment": world_a.environment.pk,
        "kind": "custom",
        "name": f"new-{case.replace(' ', '-')}",
        "url": "https://new.example.test",
        "login": "robot",
        "certificate": pem,
        **body,
    }

    as_json = admin_a.post("/api/v1/registries/", full, format="json")
    full["name"] += "-html"
    # A form post from the browsable API, with an HTML page in response.
    as_html = admin_a.post("/api/v1/registries/", full, **HTML)

    for response in (as_json, as_html):
        assert response.status_code < 500
        assert_clean(response, [CANARY_TOKEN, body_line])


def test_browsable_form_after_error_is_blank(world_a, canary, admin_a):
    """A failed form post must not put the submitted token back in the form."""
    body = {
        "environment": world_a.environment.pk,
        "kind": "custom",
        "url": "not a url",
        "login": "robot",
        "token": CANARY_TOKEN,
    }

    response = admin_a.post("/api/v1/registries/", body, **HTML)

    assert response.status_code == 400
    assert 'name="token"' in response.content.decode()
    assert_clean(response, [CANARY_TOKEN])


def test_validate_hides_secrets(world_a, canary, admin_a, monkeypatch):
    registry, pem, body_line = canary
    calls = []
    monkeypatch.setattr(
        "registries.api.views.registry_check",
        lambda **kwargs: calls.append(kwargs) or object(),
    )

    response = admin_a.post(f"/api/v1/registries/{registry.pk}/validate/")

    assert response.status_code == 200
    assert calls
    assert_clean(response, [CANARY_TOKEN, body_line])
