"""Production settings: required keys, deployment checks and migrations.

Each case runs Python in a subprocess with an environment built from
scratch. gimlet/settings.py also reads the project's .env, but only for
variables that are unset, so every variable that run.py writes to .env
is set here explicitly.
"""

import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def production_env(tmp_path):
    """Return the variables of a minimal production deployment."""
    return {
        "HOME": str(tmp_path),
        "PYTHONPATH": str(BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "gimlet.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "gimlet.example.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'gimlet.sqlite3'}",
        "REDIS_URL": "",
        "GIMLET_BASE_URL": "https://gimlet.example.test",
    }


def run_python(args, env, cwd):
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def import_settings(env, tmp_path):
    return run_python(["-c", "import gimlet.settings"], env, tmp_path)


def manage(env, *args):
    return run_python(["manage.py", *args], env, BASE_DIR)


def suggested_command(message):
    """Return the code of the `python -c '...'` command in an error message."""
    match = re.search(r"python -c '([^']+)'", message)
    assert match, message
    return match.group(1)


# Required keys.

MISSING_KEYS = [
    ("DJANGO_SECRET_KEY", "secrets.token_urlsafe(50)"),
    ("FIELD_ENCRYPTION_KEY", "Fernet.generate_key()"),
]


@pytest.mark.parametrize(("variable", "command"), MISSING_KEYS)
def test_empty_key_rejected(production_env, tmp_path, variable, command):
    production_env[variable] = ""

    result = import_settings(production_env, tmp_path)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{variable} is not set" in result.stderr
    assert command in result.stderr


@pytest.mark.parametrize(("variable", "command"), MISSING_KEYS)
def test_unset_key_rejected(production_env, tmp_path, variable, command):
    if (BASE_DIR / ".env").exists():
        pytest.skip(".env exists and would supply the unset key")
    del production_env[variable]

    result = import_settings(production_env, tmp_path)

    assert result.returncode != 0
    assert f"{variable} is not set" in result.stderr
    assert command in result.stderr


def test_both_keys_empty_rejected(production_env, tmp_path):
    production_env["DJANGO_SECRET_KEY"] = ""
    production_env["FIELD_ENCRYPTION_KEY"] = ""

    result = import_settings(production_env, tmp_path)

    assert result.returncode != 0
    assert "is not set" in result.stderr


def test_suggested_secret_key_command_works(production_env, tmp_path):
    production_env["DJANGO_SECRET_KEY"] = ""
    message = import_settings(production_env, tmp_path).stderr

    result = run_python(["-c", suggested_command(message)], production_env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) >= 50


def test_suggested_fernet_key_command_works(production_env, tmp_path):
    production_env["FIELD_ENCRYPTION_KEY"] = ""
    message = import_settings(production_env, tmp_path).stderr

    result = run_python(["-c", suggested_command(message)], production_env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert Fernet(result.stdout.strip())


def test_settings_import_with_keys(production_env, tmp_path):
    result = import_settings(production_env, tmp_path)

    assert result.returncode == 0, result.stderr


def test_settings_read_key_list(production_env, tmp_path):
    keys = [Fernet.generate_key().decode() for _ in range(2)]
    production_env["FIELD_ENCRYPTION_KEY"] = ",".join(keys)
    code = "import gimlet.settings as s; print(','.join(s.FIELD_ENCRYPTION_KEY))"

    result = run_python(["-c", code], production_env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ",".join(keys)


# Deployment checks and migrations.


def test_check_deploy_passes(production_env):
    result = manage(production_env, "check", "--deploy")

    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_warnings_with_hsts_preload(production_env):
    production_env["DJANGO_SECURE_HSTS_PRELOAD"] = "true"

    result = manage(production_env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warnings_by_default(production_env):
    result = manage(production_env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_rejects_debug(production_env):
    production_env["DJANGO_DEBUG"] = "true"

    result = manage(production_env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    assert "security.W018" in result.stderr


def test_makemigrations_clean(production_env):
    result = manage(production_env, "makemigrations", "--check", "--dry-run")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout
