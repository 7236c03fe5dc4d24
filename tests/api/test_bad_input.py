"""Malformed, mistyped, huge and NUL-laden input is a 4xx, never a 500."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from environments.models import Environment
from tests.api.conftest import client_for
from tests.api.snapshots import database_snapshot

pytestmark = pytest.mark.django_db

BAD_VALUES = [
    None,
    True,
    0,
    -1,
    2**70,
    1.5,
    1e308,
    "",
    " ",
    "\x00",
    "a\x00b",
    "x" * 100_000,
    "９",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    [],
    ["a", 1],
    {},
    {"a": {"b": [1]}},
    [[[[[[[[[[[]]]]]]]]]]],
]
HTML = {"HTTP_ACCEPT": "text/html"}


def write_endpoints(world):
    """(name, method, url, a valid body) for every write the API offers."""
    registry = f"/api/v1/registries/{world.custom.pk}/"
    settings = f"/api/v1/image-settings/{world.image_settings.pk}/"
    members = f"/api/v1/tenants/{world.tenant.slug}/members/"
    return [
        (
            "create tenant",
            "post",
            "/api/v1/tenants/",
            {"slug": "new", "name": "New", "alert_emails": ["ops@example.test"]},
        ),
        (
            "change tenant",
            "patch",
            f"/api/v1/tenants/{world.tenant.slug}/",
            {"name": "Renamed", "alert_emails": []},
        ),
        ("add member", "post", members, {"username": "root", "role": "member"}),
        (
            "change member",
            "patch",
            f"{members}{world.member.username}/",
            {"role": "admin"},
        ),
        (
            "create environment",
            "post",
            "/api/v1/environments/",
            {"tenant": world.tenant.slug, "name": "production"},
        ),
        (
            "change environment",
            "put",
            f"/api/v1/environments/{world.environment.pk}/",
            {"name": "stage"},
        ),
        (
            "create registry",
            "post",
            "/api/v1/registries/",
            {
                "environment": world.environment.pk,
                "kind": "custom",
                "name": "harbor",
                "url": "https://harbor.example.test",
                "login": "robot",
                "token": "robot-secret-123",
                "certificate": "",
                "expires_at": "2030-01-01T00:00:00Z",
            },
        ),
        (
            "change registry",
            "patch",
            registry,
            {
                "name": "harbor",
                "url": "https://harbor.example.test",
                "login": "robot",
                "token": "robot-secret-123",
                "certificate": "",
                "expires_at": "2030-01-01T00:00:00Z",
            },
        ),
        (
            "create image settings",
            "post",
            "/api/v1/image-settings/",
            {
                "environment": world.environment.pk,
                "app": "api",
                "strategy": "dockerfile",
                "registry": world.ghcr.pk,
                "repository": "",
                "tag": "v1",
            },
        ),
        (
            "change image settings",
            "put",
            settings,
            {"app": "web", "registry": world.ghcr.pk, "tag": "v2"},
        ),
    ]


ENDPOINT_NAMES = [
    "create tenant",
    "change tenant",
    "add member",
    "change member",
    "create environment",
    "change environment",
    "create registry",
    "change registry",
    "create image settings",
    "change image settings",
]


def endpoint(world, name):
    found = {case[0]: case for case in write_endpoints(world)}
    assert sorted(found) == sorted(ENDPOINT_NAMES)
    return found[name]


@pytest.fixture
def root_client(world_a, superuser):
    return client_for(superuser)


@pytest.mark.parametrize("name", ENDPOINT_NAMES)
def test_bad_field_values(name, world_a, root_client):
    """Each field in turn gets each bad value, as JSON and from a form."""
    _, method, url, body = endpoint(world_a, name)
    server_errors = []

    for field in body:
        for value in BAD_VALUES:
            bad = {**body, field: value}
            response = getattr(root_client, method)(url, bad, format="json")
            if response.status_code >= 500:
                server_errors.append((field, repr(value)[:40], "json"))
            if isinstance(value, (list, dict)) or value is None:
                continue  # a form cannot send these
            response = getattr(root_client, method)(url, bad, **HTML)
            if response.status_code >= 500:
                server_errors.append((field, repr(value)[:40], "html"))

    assert server_errors == []


@pytest.mark.parametrize("name", ENDPOINT_NAMES)
@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": ',
        b"[]",
        b'"text"',
        b"null",
        b"1e999999",
        b'{"name": "\\u0000"}',
        b'{"name": "\\ud800"}',
        b"\xff\xfe\x00",
        b"[" * 10_000,
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    ],
    ids=lambda raw: repr(raw[:12]),
)
def test_malformed_json(name, raw, world_a, root_client):
    _, method, url, _ = endpoint(world_a, name)
    before = database_snapshot()

    response = getattr(root_client, method)(url, raw, content_type="application/json")

    # Valid JSON that names no field (or only unknown ones) may succeed as
    # an empty partial update; everything else is a 400.
    assert response.status_code < 500, response.content[:200]
    if method != "patch" or not raw.startswith(b'{"name'):
        assert response.status_code == 400, response.content[:200]
    if response.status_code == 400:
        assert database_snapshot() == before


@pytest.mark.parametrize("name", ["create registry", "create environment"])
def test_huge_body(name, world_a, root_client):
    _, method, url, body = endpoint(world_a, name)
    huge = {**body, "name": "x" * 3_000_000}

    response = getattr(root_client, method)(url, huge, format="json")

    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is larger than 2621440 bytes. Send a smaller body."
    }


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/registries/?page=abc",
        "/api/v1/registries/?page=0",
        "/api/v1/registries/?page=99999999999999999999999",
        "/api/v1/registries/?page_size=-1",
        "/api/v1/registries/?page_size=99999999999999999999",
        "/api/v1/registries/?environment=abc",
        "/api/v1/registries/?environment=99999999999999999999999",
        "/api/v1/registries/?environment=%00",
        "/api/v1/registries/?kind=nope",
        "/api/v1/registries/?status=%00",
        "/api/v1/registries/?expiring=maybe",
        "/api/v1/registries/?tenant=%00",
        "/api/v1/registries/?format=xml",
        "/api/v1/environments/?tenant=" + "x" * 10_000,
        "/api/v1/environments/?name=%00",
        "/api/v1/image-settings/?registry=1.5",
        "/api/v1/image-settings/?app=%00",
        "/api/v1/registries/abc/",
        "/api/v1/registries/-1/",
        "/api/v1/registries/99999999999999999999999/",
        "/api/v1/registries/99999999999999999999999/checks/",
        "/api/v1/environments/99999999999999999999999/pull-secret/",
        "/api/v1/environments/1/pull-secret/?format=yaml",
        "/api/v1/tenants/%00/",
        "/api/v1/tenants/tenant-a/members/%00/",
        "/api/v1/tenants/tenant-a/members/" + "x" * 5_000 + "/",
    ],
)
def test_bad_query_and_path(path, world_a, root_client):
    for extra in ({}, HTML):
        response = root_client.get(path, **extra)

        assert 200 <= response.status_code < 500, (path, response.status_code)


def test_validate_ignores_body(world_a, admin_a):
    url = f"/api/v1/registries/{world_a.builtin.pk}/validate/"

    response = admin_a.post(url, b'{"broken', content_type="application/json")

    assert response.status_code in {200, 400}


@pytest.mark.parametrize("path", ["/api/v1/environments/", "/api/v1/auth/token/"])
def test_huge_multipart_body_is_refused(path, world_a, root_client):
    upload = SimpleUploadedFile("big.bin", b"x" * 3_000_000)
    body = {"tenant": world_a.tenant.slug, "name": "multipart", "file": upload}

    response = root_client.post(path, body, format="multipart")

    assert response.status_code == 413
    assert "Send a smaller body" in response.json()["detail"]
    assert not Environment.objects.filter(name="multipart").exists()
