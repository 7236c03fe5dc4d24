"""A real Celery worker in a subprocess, on the real Redis broker.

The worker shares the test database, so tests that use it need
`transactional_db` (their rows must be committed) and PostgreSQL, and it
shares the broker and cache through REDIS_URL.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

from tests.conftest import require_server

ROOT = Path(__file__).resolve().parent.parent
READY_SECONDS = 30


def require_worker_services():
    require_server("PostgreSQL", connection.vendor == "postgresql")
    require_server("Redis", bool(settings.REDIS_URL) and redis_answers())


def redis_answers():
    try:
        return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError:
        return False


def flush_redis():
    """Empty the broker and cache database, so no test reads another's state."""
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def test_database_url():
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


class Worker:
    """Start, kill and restart one worker process with a given environment."""

    def __init__(self, log_path, *, concurrency=4, **env):
        self.log_path = log_path
        self.concurrency = concurrency
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "gimlet.test_settings",
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "DJANGO_LOG_LEVEL": "DEBUG",
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in env.items()},
        }
        self.process = None
        self.name = f"test-{uuid.uuid4().hex[:8]}@localhost"

    def start(self):
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "gimlet",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                str(self.concurrency),
                "--loglevel",
                "DEBUG",
                "--hostname",
                self.name,
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if " ready." in self.log()[offset:]:
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start:\n{self.log()[-3000:]}")

    def log(self):
        return self.log_path.read_text() if self.log_path.exists() else ""

    def kill(self):
        """SIGKILL the worker: no warm shutdown, no acknowledgements."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


def wait_until(condition, *, timeout, interval=0.25, message="condition"):
    """Poll `condition` until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")
