"""The stored-secrets system check, and processes that refuse to start.

With a key missing from FIELD_ENCRYPTION_KEY the check fails with a
message that names the column, the rows and the fix. The web (WSGI and
ASGI) and worker processes run it at start-up and stop. `migrate` on a
fresh database is not affected. No page shows ciphertext meanwhile.
"""

import os
import subprocess
import sys
import uuid
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import override_settings

from gimlet import checks
from registries.models import Registry
from tests import worker as worker_process
from tests.conftest import require_server
from tests.factories import RegistryFactory, certificate_pem, self_signed_ca

ROOT = Path(__file__).resolve().parents[2]
UNRELATED_KEY = Fernet.generate_key().decode()
OLD_KEY = Fernet.generate_key().decode()

pytestmark = pytest.mark.django_db


@pytest.fixture
def pem():
    certificate, _ = self_signed_ca("Startup Check CA")
    return certificate_pem(certificate)


def run_check():
    return checks.check_stored_secrets(databases=["default"])


def ids(messages):
    return [message.id for message in messages]


def stored_ciphertext(registry):
    table = connection.ops.quote_name(Registry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT token FROM {table} WHERE id = %s", [registry.pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_check_passes_with_right_key():
    RegistryFactory(custom=True)

    assert run_check() == []


def test_check_passes_on_empty_table():
    assert run_check() == []


def test_check_skipped_without_databases():
    """Plain `manage.py check` runs no database checks."""
    RegistryFactory(custom=True)

    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        assert checks.check_stored_secrets(databases=None) == []


def test_missing_key_is_error():
    registries = [RegistryFactory(custom=True) for _ in range(3)]

    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        messages = run_check()

    assert ids(messages) == ["gimlet.E002"]
    error = messages[0]
    assert error.is_serious()
    assert "3 of 3 sampled values of registries.Registry.token" in error.msg
    assert "cannot be decrypted with the keys in FIELD_ENCRYPTION_KEY" in error.msg
    assert ", ".join(str(r.pk) for r in registries) in error.msg
    assert "Add the key that encrypted them" in error.hint
    assert "rotate_encryption_key --dry-run" in error.hint


def test_missing_key_message_has_no_secret():
    registry = RegistryFactory(custom=True)
    ciphertext = stored_ciphertext(registry)

    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        text = str(run_check()[0])

    assert ciphertext not in text
    assert registry.token not in text


def test_certificate_column_checked(pem):
    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        registry = RegistryFactory(custom=True, certificate=pem)
    Registry.objects.filter(pk=registry.pk).update(token="token-under-current-key")

    messages = run_check()

    assert ids(messages) == ["gimlet.E002"]
    assert "registries.Registry.certificate" in messages[0].msg


def test_older_key_is_warning():
    with override_settings(FIELD_ENCRYPTION_KEY=[OLD_KEY]):
        RegistryFactory(custom=True)

    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY, OLD_KEY]):
        messages = run_check()

    assert ids(messages) == ["gimlet.W001"]
    assert "encrypted with an older key" in messages[0].msg
    assert "rotate_encryption_key" in messages[0].hint


def test_invalid_key_is_error():
    with override_settings(FIELD_ENCRYPTION_KEY=["not-a-fernet-key"]):
        messages = run_check()

    assert ids(messages) == ["gimlet.E001"]
    assert "not a Fernet key" in messages[0].msg


@pytest.mark.parametrize("position", ["oldest", "newest"])
def test_sample_includes_table_ends(position):
    registries = [RegistryFactory(custom=True) for _ in range(40)]
    lost = registries[0] if position == "oldest" else registries[-1]
    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        Registry.objects.filter(pk=lost.pk).update(token="lost-key-token")

    messages = run_check()

    assert ids(messages) == ["gimlet.E002"]
    assert f"(ids {lost.pk})" in messages[0].msg


def test_sample_is_bounded():
    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        for _ in range(50):
            RegistryFactory(custom=True)

    message = run_check()[0].msg

    sampled = int(message.split(" of ")[1].split()[0])
    assert 2 * checks.SAMPLE_SIZE <= sampled <= 3 * checks.SAMPLE_SIZE
    assert "and " in message.split("(ids ")[1]


def test_manage_check_database_fails():
    RegistryFactory(custom=True)

    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        with pytest.raises(SystemCheckError, match="gimlet.E002"):
            call_command("check", "--database", "default", stdout=StringIO())


def test_manage_check_without_database_passes():
    RegistryFactory(custom=True)

    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        call_command("check", stdout=StringIO())


def test_startup_checks_raise():
    RegistryFactory(custom=True)

    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        with pytest.raises(SystemCheckError) as caught:
            checks.startup_checks()

    assert "1 error(s) with the stored secrets" in str(caught.value)
    assert "registries.Registry.token" in str(caught.value)


def test_startup_checks_log_warning(caplog):
    with override_settings(FIELD_ENCRYPTION_KEY=[OLD_KEY]):
        RegistryFactory(custom=True)

    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY, OLD_KEY]):
        checks.startup_checks()

    assert "gimlet.W001" in caplog.text


def test_silenced_error_allows_start(settings):
    RegistryFactory(custom=True)
    settings.SILENCED_SYSTEM_CHECKS = [*settings.SILENCED_SYSTEM_CHECKS, "gimlet.E002"]

    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        checks.startup_checks()


def test_missing_table_skipped(monkeypatch):
    """Before the first migrate the table does not exist, so nothing is read."""
    monkeypatch.setattr(
        connection.introspection, "table_names", lambda *args, **kwargs: []
    )

    assert run_check() == []


# Pages while a key is missing: errors, never ciphertext.


@pytest.fixture
def locked_out(world, api, admin_site, settings):
    """A tenant's registries whose key is not configured any more."""
    settings.DEBUG = True
    registry = RegistryFactory(environment=world.environment, ghcr=True)
    ciphertext = stored_ciphertext(registry)
    settings.FIELD_ENCRYPTION_KEY = [UNRELATED_KEY]
    api.raise_request_exception = False
    admin_site.raise_request_exception = False
    return registry, ciphertext


@pytest.mark.parametrize(
    ("surface", "path", "status"),
    [
        ("api", "/api/v1/registries/", 200),
        ("api", "/api/v1/registries/{pk}/", 200),
        ("api", "/api/v1/registries/{pk}/checks/", 200),
        ("api", "/api/v1/environments/{environment}/pull-secret/", 500),
        ("admin_site", "/admin/registries/registry/", 200),
        ("admin_site", "/admin/registries/registry/{pk}/change/", 200),
    ],
)
def test_pages_show_no_ciphertext(locked_out, world, request, surface, path, status):
    registry, ciphertext = locked_out
    client = request.getfixturevalue(surface)
    url = path.format(pk=registry.pk, environment=world.environment.pk)

    response = client.get(url)

    page = response.content.decode()
    assert response.status_code == status
    assert ciphertext not in page
    assert ciphertext[:40] not in page
    assert "gAAAAA" not in page
    assert registry.token not in page


def test_failed_export_names_the_error(locked_out, world, api):
    response = api.get(f"/api/v1/environments/{world.environment.pk}/pull-secret/")

    assert response.status_code == 500
    assert "SecretDecryptionError" in response.content.decode()


# Processes that start against the database.


def subprocess_env(key):
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gimlet.test_settings",
        "DATABASE_URL": worker_process.test_database_url(),
        "FIELD_ENCRYPTION_KEY": key,
        "PYTHONUNBUFFERED": "1",
    }


def require_postgresql():
    require_server("PostgreSQL", connection.vendor == "postgresql")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("module", ["gimlet.wsgi", "gimlet.asgi"])
def test_web_refuses_to_start(module):
    require_postgresql()
    RegistryFactory(custom=True)

    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        env=subprocess_env(UNRELATED_KEY),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "gimlet.E002" in result.stderr
    assert "cannot be decrypted with the keys in FIELD_ENCRYPTION_KEY" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_web_starts_with_right_key(settings):
    require_postgresql()
    RegistryFactory(custom=True)
    key = settings.FIELD_ENCRYPTION_KEY[0]

    result = subprocess.run(
        [sys.executable, "-c", "import gimlet.wsgi"],
        cwd=ROOT,
        env=subprocess_env(key),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.django_db(transaction=True)
def test_worker_refuses_to_start(tmp_path):
    require_postgresql()
    RegistryFactory(custom=True)
    worker = worker_process.Worker(
        tmp_path / "worker.log", FIELD_ENCRYPTION_KEY=UNRELATED_KEY
    )

    with pytest.raises(RuntimeError, match="worker did not start"):
        worker.start()

    log = worker.log()
    assert worker.process.wait(timeout=10) != 0
    assert "gimlet.E002" in log
    assert "cannot be decrypted with the keys in FIELD_ENCRYPTION_KEY" in log
    assert " ready." not in log


# migrate on a database that has no tables yet.


@pytest.fixture
def fresh_database_url(tmp_path):
    """The URL of a new, empty database, dropped afterwards."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    db = connection.settings_dict
    name = f"gimlet_fresh_{uuid.uuid4().hex[:12]}"
    server = {
        "host": db.get("HOST") or "127.0.0.1",
        "port": db.get("PORT") or 5432,
        "user": db.get("USER") or "postgres",
        "password": db.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    yield f"postgres://{server['user']}{password}@{server['host']}:{server['port']}/{name}"
    with psycopg.connect(**server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(database_url, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**subprocess_env(UNRELATED_KEY), "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_check_on_fresh_database(fresh_database_url):
    result = manage(fresh_database_url, "check", "--database", "default")

    assert result.returncode == 0, result.stderr[-2000:]


def test_migrate_on_fresh_database(fresh_database_url):
    result = manage(fresh_database_url, "migrate", "--no-input")

    assert result.returncode == 0, result.stderr[-2000:]
    again = manage(fresh_database_url, "check", "--database", "default")
    assert again.returncode == 0, again.stderr[-2000:]
