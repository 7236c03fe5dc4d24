"""The web process serves collected static files in production mode."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FETCH = """
import django
django.setup()
from django.test import Client
response = Client().get("/static/admin/css/base.css")
print(response.status_code, response.get("Content-Type"))
"""


def production_env(static_root):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "GIMLET_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="gimlet.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="static-files-test-" + "s" * 40,
        FIELD_ENCRYPTION_KEY="Cf7XIPSCnDk6ipVCwuCpQpW8EHiSzDBFRk5Qsq07zkw=",
        DJANGO_ALLOWED_HOSTS="testserver",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_STATIC_ROOT=str(static_root),
        DATABASE_URL=f"sqlite:///{static_root.parent / 'db.sqlite3'}",
    )
    return env


def test_admin_css_is_served_after_collectstatic(tmp_path):
    env = production_env(tmp_path / "static")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )

    result = subprocess.run(
        [sys.executable, "-c", FETCH],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    status, content_type = result.stdout.split(" ", 1)
    assert status == "200"
    assert content_type.startswith("text/css")
