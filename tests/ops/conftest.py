"""Fixtures for the operations tests: metrics scrapes, databases, commands."""

import secrets
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql

from tests.conftest import require_server

BASE_DIR = Path(__file__).resolve().parents[2]
COMMAND_TIMEOUT = 180

METRICS_TOKEN = "metrics-token-for-tests-0123456789abcdef"


@pytest.fixture
def metrics_token(settings):
    settings.GIMLET_METRICS_TOKEN = METRICS_TOKEN
    settings.GIMLET_METRICS_ALLOWED_NETWORKS = []
    return METRICS_TOKEN


@pytest.fixture
def scrape(client, metrics_token):
    """Return a function that scrapes /metrics with the token."""

    def get(**headers):
        response = client.get(
            "/metrics", headers={"Authorization": f"Bearer {metrics_token}"}
        )
        assert response.status_code == 200, response.content
        return response

    return get


def parse_samples(text):
    """Return {(sample name, frozenset of label items): value}."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            samples[key] = sample.value
    return samples


def sample(samples, name, **labels):
    """Return one sample's value; KeyError names what is missing."""
    key = (name, frozenset(labels.items()))
    if key not in samples:
        raise KeyError(f"no sample {name}{labels}")
    return samples[key]


@pytest.fixture(scope="module")
def database_server():
    database = settings.DATABASES["default"]
    require_server("PostgreSQL", connection.vendor == "postgresql")
    return {
        "host": database.get("HOST") or "127.0.0.1",
        "port": database.get("PORT") or 5432,
        "user": database.get("USER") or "postgres",
        "password": database.get("PASSWORD") or None,
    }


@contextmanager
def fresh_database(server):
    """Create an empty PostgreSQL database; drop it on leaving the block."""
    name = f"gimlet_deploy_{secrets.token_hex(4)}"
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    password = f":{server['password']}" if server["password"] else ""
    try:
        yield (
            f"postgres://{server['user']}{password}@{server['host']}:"
            f"{server['port']}/{name}"
        )
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


def manage(env, args):
    """Run manage.py in a subprocess with exactly `env`."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
