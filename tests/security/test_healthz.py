"""GET /healthz: 200 while the database responds, 503 when it does not.

A broker that is down is reported, and the status stays 200. The outages
are real: a web server started against a closed port, and a broker URL
that points at one.
"""

import socket
import time

import pytest
import requests
from django.db import OperationalError, connection

from gimlet import health
from tests import worker as worker_process
from tests.conftest import require_server
from tests.security.fakes import celery_broker
from tests.security.processes import WebServer
from tests.servers import free_port

pytestmark = pytest.mark.django_db


def closed_port():
    """A loopback port that nothing listens on."""
    port = free_port()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    return port


def test_healthy(client):
    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["broker"]["status"] == "ok"
    assert "no-cache" in response["Cache-Control"]


def test_needs_no_login(client):
    client.logout()

    assert client.get("/healthz").status_code == 200


def test_rejects_post(client):
    assert client.post("/healthz").status_code == 405


def test_head_allowed(client):
    assert client.head("/healthz").status_code == 200


def test_broker_down_reported(client):
    with celery_broker(f"redis://127.0.0.1:{closed_port()}/0"):
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["database"]["status"] == "ok"
    assert body["broker"]["status"] == "unavailable"
    assert elapsed < 3 * health.BROKER_TIMEOUT


def test_broker_error_shows_no_password(client):
    password = "broker-password-123"
    url = f"redis://:{password}@127.0.0.1:{closed_port()}/0"

    with celery_broker(url):
        response = client.get("/healthz")

    assert password not in response.content.decode()


def test_database_down_is_503(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1 refused")

    monkeypatch.setattr(connection, "cursor", refuse)

    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["database"] == {"status": "unavailable", "error": "OperationalError"}


def test_outage_logged_once(monkeypatch, caplog):
    monkeypatch.setattr(health, "_last_status", {})
    with celery_broker(f"redis://127.0.0.1:{closed_port()}/0"):
        for _ in range(3):
            health.broker_status()
    health.broker_status()

    lines = [r.getMessage() for r in caplog.records if r.name == "gimlet.health"]
    assert len([line for line in lines if "is unavailable" in line]) == 1
    assert lines[-1] == "Health check: broker is available again."


# A real web server whose database or broker does not respond.


@pytest.fixture
def web(tmp_path):
    servers = []

    def start(**env):
        server = WebServer(tmp_path / "web.log", **env).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def get_healthz(server):
    return requests.get(f"{server.url}/healthz", timeout=20, allow_redirects=False)


def test_server_without_database(web):
    password = "db-password-456"
    database = f"postgres://postgres:{password}@127.0.0.1:{closed_port()}/gimlet"
    server = web(DATABASE_URL=database)

    response = get_healthz(server)

    assert response.status_code == 503
    assert response.json()["database"]["status"] == "unavailable"
    assert password not in response.text
    assert password not in server.log()


@pytest.mark.django_db(transaction=True)
def test_server_without_broker(web):
    require_server("PostgreSQL", connection.vendor == "postgresql")
    server = web(
        DATABASE_URL=worker_process.test_database_url(),
        REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0",
    )

    response = get_healthz(server)

    body = response.json()
    assert response.status_code == 200
    assert body["database"]["status"] == "ok"
    assert body["broker"]["status"] == "unavailable"


@pytest.mark.django_db(transaction=True)
def test_server_exempts_healthz_from_https(web):
    """Production settings redirect to HTTPS, but not the probe."""
    require_server("PostgreSQL", connection.vendor == "postgresql")
    server = web(DATABASE_URL=worker_process.test_database_url())

    probe = get_healthz(server)
    page = requests.get(f"{server.url}/admin/", timeout=20, allow_redirects=False)

    assert probe.status_code == 200
    assert page.status_code == 301
    assert page.headers["Location"].startswith("https://")
