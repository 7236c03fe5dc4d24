"""GET /healthz: whether the web process reaches its database and broker.

The status code is 200 while the database responds, and 503 when it does
not, because no page works without it. A broker that is down is reported
but the status stays 200, because saves still succeed and the next sweep
checks what could not be enqueued. Errors are named by their type only,
so the page shows no host, user or password of a connection string.
"""

import logging
import time

from django.db import DatabaseError, connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)
# The last status of each component in this process. Only a change is
# logged, so a probe every few seconds does not flood the log.
_last_status = {}

# Seconds the broker may take to accept a connection and reply to a ping.
BROKER_TIMEOUT = 2.0
OK = "ok"
DEGRADED = "degraded"
UNAVAILABLE = "unavailable"


def elapsed_ms(started):
    return round((time.monotonic() - started) * 1000, 1)


def log_change(component, status, error=None):
    previous = _last_status.get(component, OK)
    _last_status[component] = status
    if status == previous:
        return
    if error is not None:
        logger.warning("Health check: %s is unavailable: %r", component, error)
    else:
        logger.info("Health check: %s is available again.", component)


def database_status(alias="default"):
    connection = connections[alias]
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        log_change(f"database {alias}", UNAVAILABLE, error)
        # A broken connection would fail the next request too, so reconnect.
        connection.close()
        return {"status": UNAVAILABLE, "error": type(error).__name__}
    log_change(f"database {alias}", OK)
    return {"status": OK, "latency_ms": elapsed_ms(started)}


def broker_status():
    """Open a new broker connection and ping it, within BROKER_TIMEOUT."""
    from gimlet.celery import app

    started = time.monotonic()
    timeouts = {
        "socket_connect_timeout": BROKER_TIMEOUT,
        "socket_timeout": BROKER_TIMEOUT,
    }
    try:
        with app.connection_for_write(
            connect_timeout=BROKER_TIMEOUT, transport_options=timeouts
        ) as connection:
            connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT
            )
    # kombu raises its own, redis' and socket errors for a broker that is
    # down, and they share no base class but Exception.
    except Exception as error:
        log_change("broker", UNAVAILABLE, error)
        return {"status": UNAVAILABLE, "error": type(error).__name__}
    log_change("broker", OK)
    return {"status": OK, "latency_ms": elapsed_ms(started)}


@require_safe
@never_cache
def healthz(request):
    database = database_status()
    broker = broker_status()
    if database["status"] != OK:
        status = UNAVAILABLE
    elif broker["status"] != OK:
        status = DEGRADED
    else:
        status = OK
    return JsonResponse(
        {"status": status, "database": database, "broker": broker},
        status=503 if status == UNAVAILABLE else 200,
    )
