"""Processes that tests start and stop: a private Redis, the web app, beat.

The machine's shared Redis and PostgreSQL serve other sessions, so no test
stops them. A test that needs a broker outage starts its own Redis on a
free loopback port, with no persistence, and stops and restarts that one.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
from django.conf import settings

from tests.conftest import require_server
from tests.servers import LOOPBACK, free_port, wait_for_port
from tests.worker import test_database_url

ROOT = Path(__file__).resolve().parents[2]
STOP_TIMEOUT = 10


class RedisServer:
    """A redis-server on its own port, which stop() and start() keep."""

    def __init__(self, log_path):
        require_server("redis-server", shutil.which("redis-server") is not None)
        self.port = free_port()
        self.log_path = log_path
        self.process = None

    def url(self, db=0):
        return f"redis://{LOOPBACK}:{self.port}/{db}"

    def start(self):
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                LOOPBACK,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(Path(self.log_path).parent),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        wait_for_port(self.port, self.process)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url(), socket_timeout=1).ping():
                    return self
            except redis.RedisError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server on port {self.port} does not reply to PING")

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)


class WebServer:
    """gunicorn serving gimlet.wsgi with the production settings.

    The keys are the test suite's, so the server reads what tests write.
    """

    def __init__(self, log_path, **env):
        self.port = free_port()
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "gimlet.settings",
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "FIELD_ENCRYPTION_KEY": ",".join(settings.FIELD_ENCRYPTION_KEY),
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": LOOPBACK,
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in env.items()},
        }
        self.process = None

    @property
    def url(self):
        return f"http://{LOOPBACK}:{self.port}"

    def start(self):
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "gimlet.wsgi",
                "--bind",
                f"{LOOPBACK}:{self.port}",
                "--workers",
                "1",
                "--timeout",
                "30",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        try:
            wait_for_port(self.port, self.process, timeout=30)
        except RuntimeError as error:
            raise RuntimeError(f"{error}:\n{self.log()[-3000:]}") from None
        return self

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)


class Beat:
    """A celery beat process with the database scheduler, as in production.

    It shares the test database and broker with the test, like the worker
    of tests.worker, and writes no pid file, so two can run side by side.
    """

    def __init__(self, log_path, **env):
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "gimlet.test_settings",
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in env.items()},
        }
        self.process = None

    def start(self):
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "gimlet",
                "beat",
                "--loglevel",
                "DEBUG",
                "--max-interval",
                "1",
                "--pidfile=",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if "beat: Starting..." in self.log():
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"beat did not start:\n{self.log()[-3000:]}")

    def log(self):
        path = Path(self.log_path)
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)
