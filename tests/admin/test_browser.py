"""The admin in headless Chromium, driven by Playwright, on a live server.

A tenant admin of the demo tenant (seed_demo) logs in and adds a GitHub
Container Registry credential against a local fake of GitHub's API. The
list then shows it valid, with an expiry countdown. The admin runs "Check
now" and opens the dashboard. Screenshots go to var/screenshots/, and the
README's picture is a copy of var/screenshots/dashboard.png, made by hand:
cp var/screenshots/dashboard.png docs/dashboard.png

Checks run in the web process: Celery's task_always_eager is on for this
test, so the check that a save enqueues runs when the save commits. The
real worker path is covered by tests/registries/test_worker_flows.py, and
eager checks let this test run on SQLite as well as on PostgreSQL.
"""

import io
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections

from gimlet.celery import app as celery_app
from registries.models import Check, Registry, Status, Trigger
from tests.admin.fakes import FakeGitHub
from tests.conftest import require_server

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "demo-password-for-browser-tests"
TOKEN = "ghp_" + "B1r0wserT0ken" * 2 + "0123456789"
TOKEN_DAYS = 25
# Playwright waits at most this long for a page, an element or an
# assertion, in ms. Its defaults are 30 s for actions and 5 s for expect(),
# and a busy CI machine can take longer than 5 s to save and check.
TIMEOUT_MS = 15_000
EXPECT_DEFAULT_MS = 5_000


def playwright_available():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists()


@pytest.fixture
def _no_broker():
    """Let saves enqueue their checks: task_always_eager runs them here."""


@pytest.fixture
def github():
    # An hour short of TOKEN_DAYS, which the countdown rounds up.
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(
        days=TOKEN_DAYS, hours=-1
    )
    with FakeGitHub(token=TOKEN, expires_at=expires_at) as server:
        yield server


@pytest.fixture
def no_dns(monkeypatch):
    """Resolve numeric hosts and localhost only, so no check leaves loopback.

    The demo's custom registry lives under .invalid, which never resolves;
    failing its lookup here keeps the query off any real DNS server.
    """
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host in ("localhost", b"localhost"):
            return real_getaddrinfo(host, port, family, type, proto, flags)
        return real_getaddrinfo(
            host, port, family, type, proto, flags | socket.AI_NUMERICHOST
        )

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def demo(settings, monkeypatch, github, no_dns):
    """The seed_demo data, checked in-process against the fake GitHub."""
    settings.GIMLET_GITHUB_API_URL = github.url
    settings.GIMLET_GHCR_URL = github.url
    # The live server serves plain HTTP, so secure cookies would not return.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    monkeypatch.setenv("GIMLET_DEMO_ADMIN_PASSWORD", PASSWORD + "-root")
    monkeypatch.setenv("GIMLET_DEMO_TENANT_ADMIN_PASSWORD", PASSWORD)
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    call_command("seed_demo", stdout=io.StringIO())
    yield
    celery_app.conf.task_always_eager = eager


@pytest.fixture
def chromium():
    require_server("Chromium", playwright_available())


@pytest.fixture
def page(chromium, live_server, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API runs an asyncio loop on the test's thread, and
    # Django refuses ORM calls while any loop runs (SynchronousOnlyOperation)
    # unless this is set; see microsoft/playwright-pytest issue 29. The
    # test's own queries stay synchronous, so nothing unsafe happens.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        page = context.new_page()
        try:
            yield page
        finally:
            # Close the connections the test opened while Playwright's loop
            # ran, or the test database cannot be dropped at the end.
            connections.close_all()
            expect.set_options(timeout=EXPECT_DEFAULT_MS)
            context.close()
            browser.close()


def screenshot(page, name):
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_tenant_admin_adds_checks_and_sees_dashboard(
    chromium, live_server, demo, github, page
):
    from playwright.sync_api import expect

    # Log in as the demo tenant's admin.
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "demo-admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_contain_text("Gimlet registries")

    # From the staging environment, add a GHCR credential.
    page.goto(f"{live_server.url}/admin/environments/environment/")
    page.get_by_role("link", name="staging", exact=True).click()
    page.click("#add-registry")
    expect(page.locator("#registry-kinds")).to_be_visible()
    screenshot(page, "choose-kind")
    page.click("a[data-kind=ghcr]")
    expect(page.locator("#id_login")).to_be_visible()
    expect(page.locator("#id_url")).to_have_count(0)
    page.fill("#id_name", "ghcr-octocat")
    page.fill("#id_login", "octocat")
    page.fill("#id_token", TOKEN)
    screenshot(page, "add-ghcr")
    page.click("input[name=_save]")

    # The save's check ran as it committed: the credential is valid, with
    # the expiry date GitHub sent.
    row = page.locator("#result_list tr", has_text="ghcr-octocat")
    expect(row.locator(".gimlet-badge-ok")).to_have_text("Valid")
    expect(row.locator(".field-expiry")).to_contain_text(
        f"Token expires in {TOKEN_DAYS} days"
    )
    assert github.user_calls() == 1
    screenshot(page, "registry-list")

    # Check now, from the list's actions.
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "check_now")
    page.click("button[name=index]")
    expect(page.locator("ul.messagelist")).to_contain_text(
        "Checked ghcr-octocat in demo/staging: Valid."
    )
    assert github.user_calls() == 2
    registry = Registry.objects.get(name="ghcr-octocat")
    assert registry.status == Status.VALID
    assert registry.checks.filter(trigger=Trigger.MANUAL).count() == 1
    screenshot(page, "check-now")
    page.click("#result_list >> text=ghcr-octocat")
    expect(page.locator("#check-now")).to_be_visible()
    screenshot(page, "registry-change")

    # The dashboard counts the demo tenant's credentials and draws the
    # expiries of the next 30 days.
    page.click("#user-tools >> text=Dashboard")
    counts = page.locator("#status-counts tr[data-tenant=demo]")
    expect(counts.locator("[data-status=total]")).to_have_text("4")
    expect(counts.locator("a[data-status=valid]")).to_have_text("Valid 1")
    expect(counts.locator("a[data-status=unreachable]")).to_have_text("Unreachable 1")
    timeline = page.locator("#expiry-timeline")
    expect(timeline).to_be_visible()
    expect(timeline).to_contain_text("demo/staging/ghcr-octocat · Token")
    expect(timeline).to_contain_text("demo/staging/demo-custom · CA certificate")
    expect(timeline).to_contain_text("in 10 days")
    expect(timeline).to_contain_text("in 20 days")
    path = screenshot(page, "dashboard")
    assert path.stat().st_size > 10_000
    assert Check.objects.filter(registry=registry).count() == 2
