"""A corpus of bad input, sent through the API and the admin forms.

Every case is rejected with a 400 (API) or a form error (admin) that names
the field it is about, never with a server error, and no row changes.
Cases that only JSON can express (wrong types, nesting, whole bodies) run
against the API alone, and cases for fields a kind's admin form does not
show run against the API alone as well.
"""

import json
from dataclasses import dataclass

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.sessions.models import Session

from registries.models import Kind, Registry
from tests.api.snapshots import database_snapshot
from tests.security.forms import admin_form_errors, submit
from tests.servers import make_ca

pytestmark = pytest.mark.django_db

CA = make_ca("Bad Input Test CA")
PEM = CA.cert_pem
PEM_BODY = PEM.strip().splitlines()[1:-1]

VALID = {
    Kind.CUSTOM: {
        "name": "harbor",
        "url": "https://registry.gimlet.test",
        "login": "robot",
        "token": "robot-secret-token-1",
    },
    Kind.GHCR: {"name": "ghcr", "login": "octocat", "token": "ghp_" + "a1B2" * 9},
    Kind.DOCKERHUB: {
        "name": "hub",
        "login": "dockeruser",
        "token": "dckr_pat_" + "Zy9" * 9,
    },
    Kind.BUILTIN: {"name": "builtin", "url": "127.0.0.1:32447"},
}


@dataclass(frozen=True)
class Case:
    name: str
    kind: str
    field: str
    value: object
    # Where the case runs: "api", "admin", or both.
    surfaces: tuple = ("api", "admin")

    def __str__(self):
        return self.name


def api_only(name, kind, field, value):
    return Case(name, kind, field, value, ("api",))


CASES = [
    # Names: DNS labels of at most 63 characters.
    Case("name too long", Kind.CUSTOM, "name", "x" * 64),
    Case("name with underscore", Kind.CUSTOM, "name", "Harbor_1"),
    Case("name with NUL", Kind.CUSTOM, "name", "har\x00bor"),
    Case("name with look-alike", Kind.CUSTOM, "name", "h\u0430rbor"),
    Case("name oversized", Kind.CUSTOM, "name", "x" * 100_000),
    Case("name with newline", Kind.CUSTOM, "name", "harbor\nx"),
    # Custom registry URLs: https, no user info, query or fragment.
    Case("url plain http", Kind.CUSTOM, "url", "http://registry.gimlet.test"),
    Case("url ftp scheme", Kind.CUSTOM, "url", "ftp://registry.gimlet.test"),
    Case("url javascript scheme", Kind.CUSTOM, "url", "javascript:alert(1)"),
    Case("url without scheme", Kind.CUSTOM, "url", "registry.gimlet.test"),
    Case("url with user info", Kind.CUSTOM, "url", "https://u:p@registry.gimlet.test"),
    Case("url with empty user", Kind.CUSTOM, "url", "https://@registry.gimlet.test"),
    Case("url with query", Kind.CUSTOM, "url", "https://registry.gimlet.test/?a=1"),
    Case("url with fragment", Kind.CUSTOM, "url", "https://registry.gimlet.test/#x"),
    Case("url port too big", Kind.CUSTOM, "url", "https://registry.gimlet.test:99999"),
    Case("url port zero", Kind.CUSTOM, "url", "https://registry.gimlet.test:0"),
    Case("url port not numeric", Kind.CUSTOM, "url", "https://registry.gimlet.test:ab"),
    Case("url with NUL", Kind.CUSTOM, "url", "https://registry.gimlet.test\x00.evil"),
    Case("url with CRLF", Kind.CUSTOM, "url", "https://r.gimlet.test/\r\nHost: x"),
    Case("url with tab", Kind.CUSTOM, "url", "https://registry\t.gimlet.test"),
    Case("url with RTL override", Kind.CUSTOM, "url", "https://registry\u202e.test"),
    Case("url host too long", Kind.CUSTOM, "url", "https://" + "a" * 3000 + ".test"),
    Case("url short IPv4 form", Kind.CUSTOM, "url", "https://127.1"),
    Case("url IPv6 zone index", Kind.CUSTOM, "url", "https://[fe80::1%25eth0]"),
    Case("url space in path", Kind.CUSTOM, "url", "https://registry.gimlet.test/a b"),
    Case("url markup in path", Kind.CUSTOM, "url", "https://r.gimlet.test/<script>"),
    Case("url backslash host", Kind.CUSTOM, "url", "https://evil.test\\@r.gimlet.test"),
    Case("url empty", Kind.CUSTOM, "url", ""),
    # Logins.
    Case("login with NUL", Kind.CUSTOM, "login", "rob\x00ot"),
    Case("login with newline", Kind.CUSTOM, "login", "robot\nadmin"),
    Case("login with colon", Kind.CUSTOM, "login", "robot:admin"),
    Case("login oversized", Kind.CUSTOM, "login", "r" * 300),
    Case("github login look-alike", Kind.GHCR, "login", "\u043ectocat"),
    Case("github login underscore", Kind.GHCR, "login", "octo_cat"),
    Case("github login leading hyphen", Kind.GHCR, "login", "-octocat"),
    Case("docker id is email", Kind.DOCKERHUB, "login", "someone@example.test"),
    # Tokens.
    Case("token inner space", Kind.CUSTOM, "token", "robot token"),
    Case("token with newline", Kind.CUSTOM, "token", "robot\ntoken"),
    Case("token with CRLF", Kind.CUSTOM, "token", "robot\r\nX-Injected: 1"),
    Case("token with NUL", Kind.CUSTOM, "token", "robot\x00token"),
    Case("token with escape", Kind.CUSTOM, "token", "robot\x1b[31mtoken"),
    Case("token zero-width space", Kind.CUSTOM, "token", "robot\u200btoken"),
    Case("token oversized", Kind.CUSTOM, "token", "t" * 5000),
    Case("github fine-grained", Kind.GHCR, "token", "github_pat_" + "A1" * 35),
    Case("github token short", Kind.GHCR, "token", "ghp_short"),
    Case("github token look-alike", Kind.GHCR, "token", "gh\u0440_" + "A" * 36),
    Case("github oauth token", Kind.GHCR, "token", "gho_" + "A" * 36),
    Case(
        "github token newline", Kind.GHCR, "token", "ghp_" + "A" * 18 + "\n" + "A" * 18
    ),
    Case("docker password", Kind.DOCKERHUB, "token", "hunter2password"),
    # Certificates: PEM certificates only, at most 64 KiB.
    Case("certificate not PEM", Kind.CUSTOM, "certificate", "hello"),
    Case(
        "certificate oversized",
        Kind.CUSTOM,
        "certificate",
        PEM * (64 * 1024 // len(PEM) + 2),
    ),
    Case("certificate private key", Kind.CUSTOM, "certificate", CA.key_pem),
    Case("certificate with key", Kind.CUSTOM, "certificate", PEM + CA.key_pem),
    Case("certificate truncated", Kind.CUSTOM, "certificate", PEM[: len(PEM) // 2]),
    Case(
        "certificate bad base64",
        Kind.CUSTOM,
        "certificate",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    ),
    Case(
        "certificate with NUL",
        Kind.CUSTOM,
        "certificate",
        PEM.replace(PEM_BODY[3], PEM_BODY[3][:10] + "\x00" + PEM_BODY[3][11:]),
    ),
    Case(
        "certificate other block",
        Kind.CUSTOM,
        "certificate",
        "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n",
    ),
    api_only("certificate on ghcr", Kind.GHCR, "certificate", PEM),
    # Expiry dates.
    Case("expiry not a date", Kind.CUSTOM, "expires_at", "2030-13-45"),
    Case("expiry year too big", Kind.CUSTOM, "expires_at", "99999-01-01T00:00:00Z"),
    api_only("expiry on ghcr", Kind.GHCR, "expires_at", "2030-01-01T00:00:00Z"),
    # Environments: an id of another tenant, or no id at all.
    Case("environment of other tenant", Kind.CUSTOM, "environment", "OTHER"),
    Case("environment not a number", Kind.CUSTOM, "environment", "abc"),
    Case("environment huge number", Kind.CUSTOM, "environment", str(2**70)),
    # Fields that the builtin kind does not take.
    api_only("builtin port too big", Kind.BUILTIN, "url", "127.0.0.1:99999"),
    api_only("builtin with login", Kind.BUILTIN, "login", "robot"),
    api_only("builtin with token", Kind.BUILTIN, "token", "robot-token-123"),
    api_only("unknown kind", Kind.CUSTOM, "kind", "quay"),
    # JSON values of the wrong type.
    api_only("token as list", Kind.CUSTOM, "token", ["robot", "token"]),
    api_only("token as object", Kind.CUSTOM, "token", {"value": "robot"}),
    api_only("token as boolean", Kind.CUSTOM, "token", True),
    api_only("name as boolean", Kind.CUSTOM, "name", False),
    api_only("url as list", Kind.CUSTOM, "url", ["https://registry.gimlet.test"]),
    api_only("login as object", Kind.CUSTOM, "login", {"name": "robot"}),
    api_only("certificate as list", Kind.CUSTOM, "certificate", [PEM]),
    api_only("expiry as number", Kind.CUSTOM, "expires_at", 1_900_000_000),
    api_only("environment as list", Kind.CUSTOM, "environment", [1]),
    api_only("kind as number", Kind.CUSTOM, "kind", 3),
    api_only("token lone surrogate", Kind.CUSTOM, "token", "robot\ud800token"),
    api_only("nested token", Kind.CUSTOM, "token", [[[[[[[[[["x"]]]]]]]]]]),
]
CASE_IDS = [case.name for case in CASES]


def snapshot():
    """Every row the API or the admin could change, including admin history."""
    rows = database_snapshot()
    rows["admin.LogEntry"] = list(LogEntry.objects.order_by("pk").values())
    rows["sessions"] = Session.objects.count()
    return rows


def resolve(case, world):
    if case.value == "OTHER":
        return world.other_environment.pk
    return case.value


@pytest.fixture
def existing(world):
    """A stored credential that update cases try to change."""
    return Registry.objects.create(
        environment=world.environment,
        kind=Kind.CUSTOM,
        name="stored",
        url="https://stored.gimlet.test",
        login="robot",
        token="stored-robot-token",
        certificate=PEM,
    )


def api_body(case, world):
    body = {"environment": world.environment.pk, "kind": case.kind, **VALID[case.kind]}
    body[case.field] = resolve(case, world)
    return body


def post_json(client, url, body, method="post"):
    """Send `body` as JSON text, with lone surrogates escaped as JSON allows."""
    send = getattr(client, method)
    return send(url, json.dumps(body), content_type="application/json")


def api_cases():
    return [case for case in CASES if "api" in case.surfaces]


def admin_cases():
    return [case for case in CASES if "admin" in case.surfaces]


@pytest.mark.parametrize("case", api_cases(), ids=str)
def test_api_create_rejects(case, world, api, existing):
    before = snapshot()

    response = post_json(api, "/api/v1/registries/", api_body(case, world))

    assert response.status_code == 400, response.content[:300]
    assert case.field in response.json(), response.json()
    assert snapshot() == before


UPDATE_FIELDS = {"name", "url", "login", "token", "certificate", "expires_at"}


@pytest.mark.parametrize(
    "case",
    [c for c in api_cases() if c.kind == Kind.CUSTOM and c.field in UPDATE_FIELDS],
    ids=str,
)
def test_api_update_rejects(case, world, api, existing):
    before = snapshot()

    response = post_json(
        api,
        f"/api/v1/registries/{existing.pk}/",
        {case.field: resolve(case, world)},
        method="patch",
    )

    assert response.status_code == 400, response.content[:300]
    assert case.field in response.json(), response.json()
    assert snapshot() == before


def admin_values(case, world):
    values = {"environment": str(world.environment.pk), **VALID[case.kind]}
    field, value = case.field, resolve(case, world)
    if field == "expires_at":
        # The admin splits a datetime into a date and a time input.
        values["expires_at_0"], values["expires_at_1"] = value, "00:00:00"
    else:
        values[field] = str(value)
    return values


@pytest.mark.parametrize("case", admin_cases(), ids=str)
def test_admin_add_rejects(case, world, admin_site, existing):
    url = f"/admin/registries/registry/add/?kind={case.kind}"
    before = snapshot()

    response = submit(admin_site, url, admin_values(case, world))

    assert response.status_code == 200, response.content[:300]
    assert case.field in admin_form_errors(response), admin_form_errors(response)
    assert snapshot() == before


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in admin_cases()
        if c.kind == Kind.CUSTOM and c.field in UPDATE_FIELDS - {"expires_at"}
    ],
    ids=str,
)
def test_admin_change_rejects(case, world, admin_site, existing):
    url = f"/admin/registries/registry/{existing.pk}/change/"
    before = snapshot()

    response = submit(admin_site, url, {case.field: str(resolve(case, world))})

    assert response.status_code == 200, response.content[:300]
    assert case.field in admin_form_errors(response), admin_form_errors(response)
    assert snapshot() == before


def test_admin_keeps_secret_out_of_rerendered_form(world, admin_site, existing):
    token = "robot-token-never-echoed-7"
    url = f"/admin/registries/registry/{existing.pk}/change/"

    response = submit(admin_site, url, {"token": token, "url": "http://plain.test"})

    assert response.status_code == 200
    assert "url" in admin_form_errors(response)
    assert token not in response.content.decode()
    assert "stored-robot-token" not in response.content.decode()


def test_admin_certificate_and_clear_conflict(world, admin_site, existing):
    url = f"/admin/registries/registry/{existing.pk}/change/"
    before = snapshot()

    response = submit(admin_site, url, {"certificate": PEM, "clear_certificate": "on"})

    assert response.status_code == 200
    assert "certificate" in admin_form_errors(response)
    assert snapshot() == before


def test_duplicate_name_rejected(world, api, existing):
    before = snapshot()
    body = {
        "environment": world.environment.pk,
        "kind": Kind.CUSTOM,
        **VALID[Kind.CUSTOM],
        "name": "stored",
    }

    response = api.post("/api/v1/registries/", body, format="json")

    assert response.status_code == 400
    assert "name" in response.json()
    assert snapshot() == before


# Whole bodies that are not a JSON object of fields.


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("truncated JSON", b'{"name": "harbor", '),
        ("top-level array", b"[]"),
        ("top-level string", b'"registry"'),
        ("top-level null", b"null"),
        ("number overflow", b'{"name": 1e999999}'),
        ("invalid UTF-8", b'{"name": "\xff\xfe"}'),
        ("deeply nested arrays", b"[" * 100_000 + b"]" * 100_000),
        ("deeply nested objects", b'{"a":' * 20_000 + b"1" + b"}" * 20_000),
        ("NUL outside strings", b'{"name": "harbor"}\x00'),
        ("duplicate keys with NUL", b'{"token": "a", "token": "b\\u0000c"}'),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_api_rejects_malformed_body(name, raw, world, api, existing):
    before = snapshot()

    response = api.post("/api/v1/registries/", raw, content_type="application/json")

    assert response.status_code == 400, (name, response.content[:300])
    assert snapshot() == before


def test_api_rejects_oversized_body(world, api, existing):
    before = snapshot()
    body = {**api_body(CASES[0], world), "name": "x" * 3_000_000}

    response = api.post("/api/v1/registries/", body, format="json")

    # Django rejects a body over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by
    # default) before DRF parses it, and the API reports it in JSON.
    assert response.status_code == 413
    assert "Send a smaller body" in response.json()["detail"]
    assert snapshot() == before


def test_corpus_size():
    """At least forty distinct cases, run through both surfaces where they fit."""
    assert len(CASES) >= 40
    assert len(admin_cases()) >= 40
    assert len(set(CASE_IDS)) == len(CASE_IDS)
