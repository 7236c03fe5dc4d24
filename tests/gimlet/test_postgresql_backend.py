"""The PostgreSQL backend's health check: the socket, not a round trip.

Each test ends a backend of the test database with pg_terminate_backend(),
as a server restart or failover ends it, and then looks at what the next
request or health check does.
"""

import io
import select

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection

from tests.conftest import require_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql():
    require_server("PostgreSQL", connection.vendor == "postgresql")


def backend_pid():
    connection.ensure_connection()
    return connection.connection.info.backend_pid


def terminate(pid):
    """End the server process `pid` from a connection of our own."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def wait_until_loud(timeout=5):
    """Wait for the server's goodbye to reach our socket, at most `timeout` s."""
    readable, _, _ = select.select([connection.connection.fileno()], [], [], timeout)
    assert readable, "the server did not close the connection"


def test_live_connection_passes_without_a_query(monkeypatch):
    pid = backend_pid()
    raw = connection.connection

    def no_query(*args, **kwargs):
        raise AssertionError("the health check ran a query")

    monkeypatch.setattr(raw, "execute", no_query)
    monkeypatch.setattr(raw, "cursor", no_query)
    connection.health_check_done = False

    connection.close_if_health_check_failed()

    assert connection.connection is raw
    monkeypatch.undo()
    assert backend_pid() == pid


def test_terminated_connection_is_replaced():
    pid = backend_pid()
    terminate(pid)
    wait_until_loud()
    connection.health_check_done = False

    connection.close_if_health_check_failed()

    assert connection.connection is None
    assert backend_pid() != pid


def test_request_after_a_restart_succeeds(settings):
    """A WSGI request, whose signals run the health check, as gunicorn's do."""
    settings.ALLOWED_HOSTS = ["localhost"]
    pid = backend_pid()
    terminate(pid)
    wait_until_loud()
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/healthz",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
    }
    statuses = []

    b"".join(WSGIHandler()(environ, lambda status, headers: statuses.append(status)))

    assert statuses == ["200 OK"]
    assert backend_pid() != pid
