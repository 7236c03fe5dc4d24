"""The canary run: secrets made for this test appear nowhere they should not.

Credentials with canary tokens and certificates go in through the API and
the admin. A real worker on Redis checks them at DEBUG log level, a sweep
runs, alerts go out over real SMTP, a malicious registry echoes the
credentials back, and errors are raised with DEBUG on. Then the test
searches every API response, every admin page it can reach, the log lines
of the web (this process) and of the worker, every key left in the Redis
database, every email, and the database dump. The one response that
contains the canaries by design, the tenant admin's pull-secret export, is
checked to contain them and left out of the search.
"""

import io
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from unittest import mock
from urllib.parse import urljoin, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.utils import timezone

from gimlet.log_context import LogContextFilter
from gimlet.log_formatting import JsonFormatter
from gimlet.logging import RedactSecretsFilter
from registries.models import Alert, Kind, Registry, Status
from registries.tasks import check_registry, run_sweep, send_expiry_alerts
from tests.security import canary
from tests.security.fakes import FakeUpstream
from tests.security.forms import submit
from tests.servers import (
    Reply,
    _identity,
    basic_credentials,
    make_server_cert,
)
from tests.worker import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

MAX_ADMIN_PAGES = 250
ADMIN_SKIP = ("/logout/", "/password/", "/jsi18n/", "/autocomplete/")


def short_lived_ca(common_name, days):
    """A CA certificate that expires in `days`, to trigger an expiry alert."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return _identity(key, certificate)


class EchoingRegistry(FakeUpstream):
    """A malicious registry that returns the credentials it was sent.

    Its 401 body repeats the Authorization header, the decoded login and
    password, and the base64 of both without the "Basic" scheme.
    """

    def registry(self, handler):
        headers = {"Docker-Distribution-API-Version": "registry/2.0"}
        credentials = basic_credentials(handler)
        if credentials is None:
            return Reply(401, {**headers, "WWW-Authenticate": 'Basic realm="echo"'})
        login, password = credentials
        raw = handler.headers.get("Authorization", "")
        message = f"{raw} {raw.removeprefix('Basic ')} {login}:{password}"
        return Reply(401, headers, {"errors": [{"message": message}], "detail": raw})


class ResponseLog:
    """Every response of a test client, as (place, text)."""

    def __init__(self):
        self.entries = []
        self.excluded = []

    def wrap(self, client, name):
        original = client.generic

        def generic(method, path, *args, **kwargs):
            response = original(method, path, *args, **kwargs)
            text = response.content.decode("utf-8", "replace")
            headers = "\n".join(f"{k}: {v}" for k, v in response.items())
            self.entries.append((f"{name} {method} {path}", f"{headers}\n{text}"))
            return response

        client.generic = generic
        return client


class LinkParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)


def crawl_admin(client, start="/admin/"):
    """GET every admin page reachable from `start`, up to MAX_ADMIN_PAGES."""
    seen, queue, pages = set(), [start], []
    while queue and len(pages) < MAX_ADMIN_PAGES:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        text = response.content.decode("utf-8", "replace")
        pages.append((url, response.status_code, text))
        if response.status_code != 200 or "html" not in response["Content-Type"]:
            continue
        parser = LinkParser()
        parser.feed(text)
        for link in parser.links:
            target = urljoin(url, link)
            parts = urlsplit(target)
            if parts.netloc or not parts.path.startswith("/admin/"):
                continue
            if any(skip in parts.path for skip in ADMIN_SKIP):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen:
                queue.append(target)
    return pages


@pytest.fixture
def web_logs():
    """Capture every log record of this process at DEBUG, raw and as output.

    The raw handler runs first, before the redaction filter of the other
    handlers changes a record, so it shows what the code logged.
    """
    root = logging.getLogger()
    raw, shipped = io.StringIO(), io.StringIO()
    raw_handler = logging.StreamHandler(raw)
    raw_handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    shipped_handler = logging.StreamHandler(shipped)
    shipped_handler.setFormatter(JsonFormatter())
    shipped_handler.addFilter(LogContextFilter())
    shipped_handler.addFilter(RedactSecretsFilter())
    previous_level = root.level
    root.handlers.insert(0, raw_handler)
    root.addHandler(shipped_handler)
    root.setLevel(logging.DEBUG)
    yield raw, shipped
    root.removeHandler(raw_handler)
    root.removeHandler(shipped_handler)
    root.setLevel(previous_level)


def summarize(leaks):
    """Group leaks by needle: {needle: [places]}, for a readable failure."""
    by_needle = {}
    for place, names in leaks.items():
        for name in names:
            by_needle.setdefault(name, []).append(re.sub(r"\d+", "N", place))
    return {name: sorted(set(places)) for name, places in by_needle.items()}


def checked_since(ids, moment):
    """Return a condition: every registry in `ids` was checked after `moment`."""

    def done():
        rows = Registry.objects.filter(pk__in=ids, checked_at__isnull=False)
        if moment is not None:
            rows = rows.filter(checked_at__gte=moment)
        return rows.count() == len(ids)

    return done


def api_create(api, environment, **fields):
    response = api.post(
        "/api/v1/registries/", {"environment": environment.pk, **fields}, format="json"
    )
    assert response.status_code == 201, response.content[:500]
    return Registry.objects.get(pk=response.json()["id"])


def test_canary_appears_nowhere(
    services,
    world,
    api,
    admin_site,
    upstream,
    smtp,
    start_worker,
    web_logs,
    settings,
    tmp_path,
):
    needles = canary.Needles()
    tokens = {
        "ghcr first": canary.github_token(),
        "ghcr second": canary.github_token(),
        "dockerhub": canary.dockerhub_token(),
        "custom api": canary.custom_token(),
        "custom admin": canary.custom_token(),
        "custom admin change": canary.custom_token(),
        "custom echo": canary.custom_token(),
        "error page api": canary.custom_token(),
        "error page admin": canary.custom_token(),
        "queued": canary.custom_token(),
    }
    logins = {
        "ghcr first": "octocat",
        "ghcr second": "octocat",
        "dockerhub": "dockeruser",
        "custom echo": "echo-robot",
    }
    for name, token in tokens.items():
        needles.add_token(name, token, login=logins.get(name, "robot"))
    trusted_ca = short_lived_ca("Canary Trusted CA", days=5)
    other_ca = short_lived_ca("Canary Other CA", days=60)
    needles.add_certificate("trusted CA", trusted_ca.cert_pem)
    needles.add_certificate("other CA", other_ca.cert_pem)

    registry_host = FakeUpstream(make_server_cert(trusted_ca, ["127.0.0.1"])).start()
    echo_host = EchoingRegistry(make_server_cert(trusted_ca, ["127.0.0.1"])).start()
    settings.GIMLET_GITHUB_API_URL = upstream.url
    settings.GIMLET_GHCR_URL = upstream.url
    settings.GIMLET_DOCKERHUB_AUTH_URL = upstream.url
    settings.GIMLET_REGISTRY_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    responses = ResponseLog()
    api = responses.wrap(api, "api")
    admin_site = responses.wrap(admin_site, "admin")
    # A check that finds another one running retries after the lock's
    # lifetime; keep that short, since saves here follow each other fast.
    worker = start_worker(GIMLET_VALIDATION_CONCURRENCY=4, GIMLET_CHECK_LOCK_SECONDS=5)
    environment = world.environment
    try:
        # Credentials in through the API.
        ghcr = api_create(
            api,
            environment,
            kind=Kind.GHCR,
            login="octocat",
            token=tokens["ghcr first"].value,
        )
        patched = api.patch(
            f"/api/v1/registries/{ghcr.pk}/",
            {"token": tokens["ghcr second"].value},
            format="json",
        )
        assert patched.status_code == 200
        dockerhub = api_create(
            api,
            environment,
            kind=Kind.DOCKERHUB,
            login="dockeruser",
            token=tokens["dockerhub"].value,
            expires_at=(timezone.now() + timedelta(days=2)).isoformat(),
        )
        custom = api_create(
            api,
            environment,
            kind=Kind.CUSTOM,
            name="harbor",
            url=registry_host.url,
            login="robot",
            token=tokens["custom api"].value,
            certificate=trusted_ca.cert_pem,
        )
        echo = api_create(
            api,
            environment,
            kind=Kind.CUSTOM,
            name="echo",
            url=echo_host.url,
            login="echo-robot",
            token=tokens["custom echo"].value,
            certificate=trusted_ca.cert_pem,
        )
        # A failed save through the browsable API must not echo the token.
        rejected = api.post(
            "/api/v1/registries/",
            {
                "environment": environment.pk,
                "kind": Kind.CUSTOM,
                "url": "http://plain.gimlet.test",
                "login": "robot",
                "token": tokens["custom api"].value,
            },
            HTTP_ACCEPT="text/html",
        )
        assert rejected.status_code == 400

        # Credentials in through the admin.
        added = submit(
            admin_site,
            "/admin/registries/registry/add/?kind=custom",
            {
                "environment": str(environment.pk),
                "name": "quay",
                "url": registry_host.url,
                "login": "robot",
                "token": tokens["custom admin"].value,
                "certificate": other_ca.cert_pem,
            },
        )
        assert added.status_code == 302, added.content[:1000]
        quay = Registry.objects.get(name="quay")
        changed = submit(
            admin_site,
            f"/admin/registries/registry/{quay.pk}/change/",
            {"token": tokens["custom admin change"].value},
        )
        assert changed.status_code == 302
        invalid_change = submit(
            admin_site,
            f"/admin/registries/registry/{quay.pk}/change/",
            {"token": tokens["custom admin change"].value, "url": "ftp://x.test"},
        )
        assert invalid_change.status_code == 200

        everything = [ghcr, dockerhub, custom, echo, quay]
        ids = [registry.pk for registry in everything]
        wait_until(
            lambda: (
                Registry.objects.filter(pk__in=ids, checked_at__isnull=False).count()
                == len(ids)
            ),
            timeout=90,
            message="the checks after saving",
        )
        assert Registry.objects.get(pk=ghcr.pk).status == Status.VALID
        assert Registry.objects.get(pk=custom.pk).status == Status.VALID
        assert Registry.objects.get(pk=quay.pk).status == Status.TLS_ERROR
        assert Registry.objects.get(pk=echo.pk).status == Status.INVALID

        # Manual checks in the web process, and a sweep in the worker.
        for registry in everything:
            assert api.post(
                f"/api/v1/registries/{registry.pk}/validate/"
            ).status_code in {
                200,
                409,
            }
        swept_from = timezone.now()
        run_sweep.delay()
        wait_until(
            lambda: (
                Registry.objects.filter(pk__in=ids, checked_at__gte=swept_from).count()
                == len(ids)
            ),
            timeout=90,
            message="the sweep",
        )

        # Alerts: the GitHub token stops working, and expiries are near.
        upstream.accepted = {"somebody-else": "ghp_" + "0" * 36}
        check_registry.delay(ghcr.pk, "manual")
        wait_until(
            lambda: Registry.objects.get(pk=ghcr.pk).status == Status.INVALID,
            timeout=60,
            message="the GitHub token turning invalid",
        )
        send_expiry_alerts.delay()
        wait_until(
            lambda: (
                Alert.objects.count() >= 3
                and not Alert.objects.filter(sent_at__isnull=True).exists()
            ),
            timeout=90,
            message="every alert sent",
        )
        wait_until(lambda: len(smtp.messages) >= 1, timeout=30, message="an email")

        # Error pages with DEBUG on, while handling canaries.
        settings.DEBUG = True
        api.raise_request_exception = False
        admin_site.raise_request_exception = False
        failure = RuntimeError("the audit store is down")
        with mock.patch("registries.services.audit_event_record", side_effect=failure):
            api_error = api.post(
                "/api/v1/registries/",
                {
                    "environment": environment.pk,
                    "kind": Kind.CUSTOM,
                    "name": "broken",
                    "url": registry_host.url,
                    "login": "robot",
                    "token": tokens["error page api"].value,
                    "certificate": trusted_ca.cert_pem,
                },
                format="json",
                HTTP_ACCEPT="text/html",
            )
            admin_error = submit(
                admin_site,
                "/admin/registries/registry/add/?kind=custom",
                {
                    "environment": str(environment.pk),
                    "name": "broken-admin",
                    "url": registry_host.url,
                    "login": "robot",
                    "token": tokens["error page admin"].value,
                    "certificate": other_ca.cert_pem,
                },
            )
        assert api_error.status_code == 500
        assert admin_error.status_code == 500
        assert "Local vars" in api_error.content.decode()
        settings.DEBUG = False

        # Reads of everything, through the API.
        api_paths = [
            "/api/v1/tenants/",
            f"/api/v1/tenants/{world.tenant.slug}/",
            f"/api/v1/tenants/{world.tenant.slug}/members/",
            "/api/v1/environments/",
            f"/api/v1/environments/{environment.pk}/",
            "/api/v1/registries/",
            "/api/v1/registries/?expiring=true",
            "/api/v1/image-settings/",
            "/api/v1/schema/",
            "/api/v1/docs/",
            "/healthz",
        ]
        for registry in everything:
            api_paths += [
                f"/api/v1/registries/{registry.pk}/",
                f"/api/v1/registries/{registry.pk}/checks/",
            ]
        for path in api_paths:
            assert api.get(path).status_code == 200, path
            assert api.get(path, HTTP_ACCEPT="text/html").status_code in {200, 406}

        # The export returns the secrets by design; it is checked, not searched.
        export = api.get(f"/api/v1/environments/{environment.pk}/pull-secret/")
        assert export.status_code == 200
        responses.entries.pop()
        assert needles.found(export.content.decode())

        pages = crawl_admin(admin_site)

        # Leave messages in the broker: stop the worker, then enqueue work.
        worker.stop()
        queued = api_create(
            api,
            environment,
            kind=Kind.CUSTOM,
            name="queued",
            url=registry_host.url,
            login="robot",
            token=tokens["queued"].value,
        )
        run_sweep.delay()
        check_registry.delay(queued.pk, "manual")
        time.sleep(1)
        redis_dump = canary.redis_dump()
    finally:
        registry_host.stop()
        echo_host.stop()

    raw_log, shipped_log = web_logs
    haystacks = [
        *responses.entries,
        *((f"admin page {url}", text) for url, _status, text in pages),
        ("web log (raw records)", raw_log.getvalue()),
        ("web log (as shipped)", shipped_log.getvalue()),
        ("worker log", worker.log()),
        *redis_dump,
        *canary.email_texts(smtp.messages),
        *canary.table_rows(),
    ]
    dump = canary.pg_dump()
    if dump is not None:
        haystacks.append(("pg_dump", dump))

    # The search covers what it claims to.
    assert len(responses.entries) >= 60
    assert len([page for page in pages if page[1] == 200]) >= 20
    assert any("/registries/registry/" in url for url, _, _ in pages)
    assert "Checked registry" in worker.log() or "Stored " in worker.log()
    assert '"level": "DEBUG"' in worker.log()
    assert any(
        "registries.check_registry" in text
        for place, text in redis_dump
        if "celery" in place
    )
    assert len(smtp.messages) >= 1
    assert any("registries_registry" in place for place, _ in canary.table_rows())
    leaks = needles.leaks(haystacks)
    assert leaks == {}, summarize(leaks)
