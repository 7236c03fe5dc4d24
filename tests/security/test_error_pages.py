"""Error pages with DEBUG on show tracebacks and local variables, no secret.

Each test makes a request that carries or reads a canary fail deep inside
the code that handles it, with DEBUG on, and searches Django's technical
error page (HTML and text) for the canary in every encoding.
"""

import logging
import sys
from unittest import mock

import pytest
import requests
from django.conf import settings as django_settings
from django.utils.log import AdminEmailHandler
from rest_framework.authtoken.models import Token

from gimlet.error_reports import SecretSafeExceptionReporter
from registries.models import Kind, Registry
from tests.security import canary
from tests.security.forms import submit
from tests.servers import make_ca

pytestmark = pytest.mark.django_db

FAILURE = "the audit store is down"
HTML = {"HTTP_ACCEPT": "text/html"}
TEXT = {"HTTP_ACCEPT": "application/json"}
ADMIN_ADD = "/admin/registries/registry/add/?kind=custom"


@pytest.fixture(autouse=True)
def debug_on(settings):
    settings.DEBUG = True


@pytest.fixture
def needles():
    return canary.Needles()


@pytest.fixture
def secrets(needles):
    token = canary.custom_token()
    github = canary.github_token()
    pem = make_ca("Error Page Canary CA").cert_pem
    needles.add_token("custom token", token, login="robot")
    needles.add_token("github token", github, login="octocat")
    needles.add_certificate("certificate", pem)
    return {"token": token, "github": github, "pem": pem}


@pytest.fixture
def failing_audit():
    error = RuntimeError(FAILURE)
    with (
        mock.patch("registries.services.audit_event_record", side_effect=error),
        mock.patch("environments.pull_secrets.audit_event_record", side_effect=error),
    ):
        yield


def no_raise(client):
    client.raise_request_exception = False
    return client


def assert_safe_error_page(response, needles, *, extra_secrets=()):
    page = response.content.decode()

    assert response.status_code == 500, page[:500]
    assert "RuntimeError" in page
    assert "Traceback" in page or "Local vars" in page
    assert needles.leaks([("error page", page)]) == {}
    for secret in extra_secrets:
        assert secret not in page


def registry_body(world, secrets):
    return {
        "environment": world.environment.pk,
        "kind": Kind.CUSTOM,
        "name": "harbor",
        "url": "https://registry.gimlet.test",
        "login": "robot",
        "token": secrets["token"].value,
        "certificate": secrets["pem"],
    }


def api_token(user):
    return Token.objects.get(user=user).key


@pytest.mark.parametrize("accept", [HTML, TEXT], ids=["html", "text"])
def test_api_create(world, api, secrets, needles, failing_audit, accept):
    response = no_raise(api).post(
        "/api/v1/registries/", registry_body(world, secrets), format="json", **accept
    )

    assert_safe_error_page(response, needles, extra_secrets=[api_token(world.admin)])


@pytest.mark.parametrize("accept", [HTML, TEXT], ids=["html", "text"])
def test_api_form_create(world, api, secrets, needles, failing_audit, accept):
    """A browsable-API form post: the secrets arrive in request.POST."""
    response = no_raise(api).post(
        "/api/v1/registries/", registry_body(world, secrets), **accept
    )

    assert_safe_error_page(response, needles)


def test_api_update(world, api, secrets, needles, failing_audit):
    registry = Registry.objects.create(
        environment=world.environment,
        kind=Kind.GHCR,
        url="ghcr.io",
        login="octocat",
        token=canary.github_token().value,
    )

    response = no_raise(api).patch(
        f"/api/v1/registries/{registry.pk}/",
        {"token": secrets["github"].value},
        format="json",
        **HTML,
    )

    assert_safe_error_page(response, needles)


def test_api_failure_in_library_frame(world, api, secrets, needles):
    """A callee that keeps the token under a name of its own hides it too."""

    def fail(data):
        raise RuntimeError(f"cannot hash {len(data)} characters")

    with mock.patch("registries.models.secret_fingerprint", side_effect=fail):
        response = no_raise(api).post(
            "/api/v1/registries/", registry_body(world, secrets), format="json", **HTML
        )

    assert_safe_error_page(response, needles)


def test_api_validate(world, api, secrets, needles, settings):
    settings.GIMLET_REGISTRY_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    registry = Registry.objects.create(
        environment=world.environment,
        kind=Kind.CUSTOM,
        url="https://127.0.0.1:9",
        login="robot",
        token=secrets["token"].value,
        certificate=secrets["pem"],
    )
    error = RuntimeError("the transport failed")

    with mock.patch.object(requests.adapters.HTTPAdapter, "send", side_effect=error):
        response = no_raise(api).post(
            f"/api/v1/registries/{registry.pk}/validate/", **HTML
        )

    assert_safe_error_page(response, needles)


def test_pull_secret_export(world, api, secrets, needles, failing_audit):
    Registry.objects.create(
        environment=world.environment,
        kind=Kind.GHCR,
        url="ghcr.io",
        login="octocat",
        token=secrets["github"].value,
    )

    response = no_raise(api).get(
        f"/api/v1/environments/{world.environment.pk}/pull-secret/"
    )

    assert_safe_error_page(response, needles)


def admin_values(world, secrets):
    return {
        "environment": str(world.environment.pk),
        "name": "harbor",
        "url": "https://registry.gimlet.test",
        "login": "robot",
        "token": secrets["token"].value,
        "certificate": secrets["pem"],
    }


def test_admin_add(world, admin_site, secrets, needles, failing_audit):
    client = no_raise(admin_site)

    response = submit(client, ADMIN_ADD, admin_values(world, secrets), **HTML)

    session_key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert_safe_error_page(response, needles, extra_secrets=[session_key])


def test_admin_change(world, admin_site, secrets, needles, failing_audit):
    registry = Registry.objects.create(
        environment=world.environment,
        kind=Kind.CUSTOM,
        url="https://registry.gimlet.test",
        login="robot",
        token=canary.custom_token().value,
    )
    url = f"/admin/registries/registry/{registry.pk}/change/"
    values = {"token": secrets["token"].value, "certificate": secrets["pem"]}

    response = submit(no_raise(admin_site), url, values, **HTML)

    assert_safe_error_page(response, needles)


def failed_request_record(request, credential):
    """Return the log record of a request that failed while storing a secret.

    The exception is caught here, so the traceback contains this frame and
    the one that raised, as for a view, and not the test's own variables.
    """

    def store(values):
        raise RuntimeError("the database went away")

    try:
        store(credential)
    except RuntimeError:
        return logging.makeLogRecord(
            {
                "name": "django.request",
                "levelno": logging.ERROR,
                "levelname": "ERROR",
                "msg": "Internal Server Error: %s",
                "args": (request.path,),
                "exc_info": sys.exc_info(),
                "request": request,
            }
        )


def test_error_email(settings, rf, secrets, needles, mailoutbox):
    """The emails that mail_admins sends for a server error hide secrets too."""
    settings.DEBUG = False
    settings.ADMINS = [("Operations", "ops@canary.test")]
    token = secrets["token"].value
    request = rf.post("/api/v1/registries/", {"token": token, "login": "robot"})
    credential = {"login": "robot", "token": token, "certificate": secrets["pem"]}

    AdminEmailHandler(include_html=True).emit(
        failed_request_record(request, credential)
    )

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    html = message.alternatives[0].content
    assert "RuntimeError" in message.body
    assert "Local Vars" in html
    assert "credential" in html
    assert needles.leaks([("text", message.body), ("html", html)]) == {}


def test_report_survives_unreadable_request(settings, rf, secrets, needles):
    """A request whose body cannot be read still gets a report, minus the body."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    token = secrets["token"].value
    request = rf.post("/admin/", {"token": token, "padding": "x" * 500})
    record = failed_request_record(request, {"token": token})

    report = SecretSafeExceptionReporter(request, *record.exc_info)
    page = report.get_traceback_html()

    assert "RuntimeError" in page
    assert needles.leaks([("page", page)]) == {}
