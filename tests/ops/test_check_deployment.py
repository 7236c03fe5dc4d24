"""check_deployment: each misconfiguration is reported, and exits 1."""

import io
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from tests.conftest import require_server
from tests.worker import redis_answers

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"


def closed_port():
    """Return a loopback port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_deployment(*args):
    """Run the command; return (passed, output)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check_deployment", *args, stdout=out, stderr=err)
    except CommandError as failure:
        return False, out.getvalue() + err.getvalue() + str(failure)
    return True, out.getvalue() + err.getvalue()


@pytest.fixture
def deployed(settings, monkeypatch):
    """A production configuration that passes, apart from the broker."""
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["gimlet.example.test"]
    settings.EMAIL_BACKEND = SMTP_BACKEND
    settings.GIMLET_METRICS_TOKEN = "t" * 40
    monkeypatch.setenv("GIMLET_BASE_URL", "https://gimlet.example.test")
    settings.GIMLET_BASE_URL = "https://gimlet.example.test"
    return settings


@pytest.fixture
def broker(deployed):
    """Point the broker at the suite's Redis server."""
    require_server("Redis", bool(deployed.REDIS_URL) and redis_answers())
    deployed.CELERY_BROKER_URL = deployed.REDIS_URL
    return deployed


def use_broker(settings, url):
    settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = url


# A deployment without problems.


def test_healthy_deployment_passes(broker):
    passed, output = check_deployment()

    assert passed, output
    assert "deployment.E" not in output
    assert "found no problems" in output


# Keys.


def test_missing_secret_key(deployed):
    deployed.SECRET_KEY = ""

    passed, output = check_deployment()

    assert not passed
    assert "(deployment.E001) DJANGO_SECRET_KEY is missing." in output


def test_missing_encryption_key(deployed):
    deployed.FIELD_ENCRYPTION_KEY = []

    passed, output = check_deployment()

    assert not passed
    assert "(deployment.E002) FIELD_ENCRYPTION_KEY is missing" in output


def test_invalid_encryption_key(deployed):
    deployed.FIELD_ENCRYPTION_KEY = ["not-a-fernet-key"]

    passed, output = check_deployment()

    assert not passed
    assert "(deployment.E002)" in output
    assert "not a Fernet key" in output


def test_unset_key_stops_command(tmp_path):
    """Settings reject a missing key before the command can run."""
    env = {
        "PYTHONPATH": str(BASE_DIR),
        "HOME": str(tmp_path),
        "DJANGO_SECRET_KEY": "s" * 50,
        "FIELD_ENCRYPTION_KEY": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check_deployment"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY is not set" in result.stderr


# DEBUG, hosts, email.


def test_debug_on(deployed):
    deployed.DEBUG = True

    passed, output = check_deployment()

    assert not passed
    assert "(deployment.E003) DEBUG is on" in output


def test_allowed_hosts_empty(deployed):
    deployed.ALLOWED_HOSTS = []

    passed, output = check_deployment()

    assert not passed
    assert "(deployment.E004) DJANGO_ALLOWED_HOSTS is empty" in output


def test_console_email_in_production(deployed):
    deployed.EMAIL_BACKEND = CONSOLE_BACKEND

    passed, output = check_deployment()

    assert not passed
    assert "(deployment.E007) The email backend" in output
    assert "prints messages to the console" in output


def test_console_email_in_development(deployed):
    deployed.DEBUG = True
    deployed.EMAIL_BACKEND = CONSOLE_BACKEND

    _, output = check_deployment()

    assert "deployment.E007" not in output


# Broker.


def test_broker_unreachable(deployed):
    port = closed_port()
    use_broker(deployed, f"redis://127.0.0.1:{port}/7")

    passed, output = check_deployment()

    assert not passed
    assert f"(deployment.E006) The broker at redis://127.0.0.1:{port}/7" in output
    assert "is unreachable" in output


def test_broker_password_hidden(deployed):
    use_broker(deployed, f"redis://:hunter2-secret@127.0.0.1:{closed_port()}/7")

    passed, output = check_deployment()

    assert not passed
    assert "deployment.E006" in output
    assert "hunter2-secret" not in output


def test_embedded_broker(deployed):
    use_broker(deployed, "")
    deployed.CELERY_BROKER_URL = "filesystem://localhost//"

    passed, output = check_deployment()

    assert not passed
    assert "(deployment.E005) REDIS_URL is not set" in output


def test_visibility_timeout_too_short(broker):
    broker.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}

    passed, output = check_deployment()

    assert not passed
    assert "(deployment.E012)" in output
    assert "registries.check_batch (1800 s)" in output


# GIMLET_BASE_URL.


def test_base_url_missing(deployed, monkeypatch):
    monkeypatch.delenv("GIMLET_BASE_URL")

    passed, output = check_deployment()

    assert not passed
    assert "(deployment.E008) GIMLET_BASE_URL is not set" in output


def test_base_url_empty(deployed, monkeypatch):
    monkeypatch.setenv("GIMLET_BASE_URL", "")

    passed, output = check_deployment()

    assert not passed
    assert "deployment.E008" in output


def test_base_url_not_absolute(deployed):
    deployed.GIMLET_BASE_URL = "gimlet.example.test"

    passed, output = check_deployment()

    assert not passed
    assert "(deployment.E009)" in output


@pytest.mark.parametrize(
    "url", ["http://localhost:8000", "http://127.0.0.1:8000", "https://[::1]/"]
)
def test_base_url_loopback_warned(deployed, url):
    deployed.GIMLET_BASE_URL = url

    passed, output = check_deployment()
    strict, _ = check_deployment("--fail-level", "WARNING")

    assert "(deployment.W001)" in output
    assert "deployment.E008" not in output
    assert not strict


def test_base_url_plain_http_warned(deployed):
    deployed.GIMLET_BASE_URL = "http://gimlet.example.test"

    _, output = check_deployment()

    assert "(deployment.W002)" in output


# Database and metrics.


def test_unapplied_migrations(tmp_path):
    env = {
        "PYTHONPATH": str(BASE_DIR),
        "HOME": str(tmp_path),
        "DJANGO_SECRET_KEY": "s" * 50,
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "REDIS_URL": "",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check_deployment"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert "(deployment.E011)" in result.stderr
    assert "Run python manage.py migrate." in result.stderr


def test_sqlite_warned(deployed, settings):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the suite runs on PostgreSQL")

    _, output = check_deployment()

    assert "(deployment.W003) The database is SQLite" in output


def test_metrics_closed_noted(deployed):
    deployed.GIMLET_METRICS_TOKEN = ""
    deployed.GIMLET_METRICS_ALLOWED_NETWORKS = []

    _, output = check_deployment()

    assert "(deployment.I001) GET /metrics rejects every scrape" in output


def test_metrics_short_token_warned(deployed):
    deployed.GIMLET_METRICS_TOKEN = "short"

    _, output = check_deployment()

    assert "(deployment.W004) GIMLET_METRICS_TOKEN has 5 characters" in output
