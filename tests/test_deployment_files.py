import os
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import require_server

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {"postgres", "redis", "web", "worker", "beat", "mailpit"}


def compose_config():
    require_server("docker-compose", shutil.which("docker-compose"))
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "compose-test-secret",
        "FIELD_ENCRYPTION_KEY": "compose-test-key",
    }
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    return yaml.safe_load(result.stdout)


def test_compose_file_lists_every_service():
    config = compose_config()

    assert set(config["services"]) == SERVICES


def test_compose_services_have_health_checks():
    config = compose_config()

    for name, service in config["services"].items():
        assert "healthcheck" in service, name


def test_compose_requires_the_keys():
    require_server("docker-compose", shutil.which("docker-compose"))
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEY"}
    }

    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd="/",
    )

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
