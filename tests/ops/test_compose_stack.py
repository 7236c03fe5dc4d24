"""docker-compose.yml: the web service's environment passes check_deployment.

`docker-compose config` renders the file (no Docker engine needed); the web
service's variables are then used as they are, except for the database and
Redis addresses, which point at the suite's own servers.
"""

import os
import shutil
import subprocess

import pytest
import yaml
from django.conf import settings

from tests.conftest import require_server
from tests.ops.conftest import BASE_DIR, fresh_database, manage
from tests.worker import redis_answers

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def compose():
    require_server("docker-compose", shutil.which("docker-compose"))
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "compose-test-secret-" + "k" * 40,
        "FIELD_ENCRYPTION_KEY": "Cf7XIPSCnDk6ipVCwuCpQpW8EHiSzDBFRk5Qsq07zkw=",
        "GIMLET_METRICS_TOKEN": "compose-test-metrics-token-0123456789",
    }
    result = subprocess.run(
        ["docker-compose", "-f", str(BASE_DIR / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    return yaml.safe_load(result.stdout)["services"]


def command_of(service):
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def test_worker_and_beat_quiet(compose):
    for name in ("worker", "beat"):
        assert command_of(compose[name]).startswith("celery --quiet -A gimlet"), name


def test_web_checks_before_serving(compose):
    command = command_of(compose["web"])

    assert command.index("migrate") < command.index("check_deployment")
    assert command.index("check_deployment") < command.index("gunicorn")


def test_metrics_token_passed(compose):
    for name in ("web", "worker", "beat"):
        environment = compose[name]["environment"]

        assert environment["GIMLET_METRICS_TOKEN"].startswith("compose-test"), name


def test_web_environment_passes(compose, database_server, tmp_path):
    require_server("Redis", bool(settings.REDIS_URL) and redis_answers())
    environment = {
        key: str(value) for key, value in compose["web"]["environment"].items()
    }

    with fresh_database(database_server) as database_url:
        env = {
            **environment,
            "DATABASE_URL": database_url,
            "REDIS_URL": settings.REDIS_URL,
            "HOME": str(tmp_path),
            "PATH": "/usr/bin:/bin",
        }
        migrated = manage(env, ["migrate", "--no-input"])
        checked = manage(env, ["check_deployment"])

    assert migrated.returncode == 0, migrated.stderr
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "(deployment.W001) GIMLET_BASE_URL points at localhost" in checked.stderr
