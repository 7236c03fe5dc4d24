"""Who may scrape /metrics: a bearer token, an allowed network, or nobody."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops.conftest import METRICS_TOKEN

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def closed(settings):
    settings.GIMLET_METRICS_TOKEN = ""
    settings.GIMLET_METRICS_ALLOWED_NETWORKS = []


@pytest.fixture
def networks(settings):
    settings.GIMLET_METRICS_TOKEN = ""
    settings.GIMLET_METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "2001:db8::/32"]


def get(client, **extra):
    return client.get("/metrics", **extra)


# Neither setting: closed.


def test_closed_by_default(client, closed):
    response = get(client)

    assert response.status_code == 403
    assert b"GIMLET_METRICS_TOKEN" in response.content


def test_closed_ignores_tokens(client, closed):
    response = get(client, headers={"Authorization": "Bearer "})

    assert response.status_code == 403


def test_closed_from_loopback(client, closed):
    response = get(client, REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 403


# Bearer token.


def test_token_missing(client, metrics_token):
    response = get(client)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_token_wrong(client, metrics_token):
    response = get(client, headers={"Authorization": "Bearer not-the-token"})

    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_token_prefix_rejected(client, metrics_token):
    response = get(client, headers={"Authorization": f"Bearer {metrics_token[:-1]}"})

    assert response.status_code == 401


def test_token_other_scheme(client, metrics_token):
    response = get(client, headers={"Authorization": f"Token {metrics_token}"})

    assert response.status_code == 401


def test_token_accepted(client, metrics_token):
    response = get(client, headers={"Authorization": f"Bearer {metrics_token}"})

    assert response.status_code == 200
    assert b"gimlet_credentials" in response.content


def test_token_scheme_case_insensitive(client, metrics_token):
    response = get(client, headers={"Authorization": f"bearer {metrics_token}"})

    assert response.status_code == 200


def test_token_not_echoed(client, metrics_token):
    response = get(client, headers={"Authorization": "Bearer wrong-token-1234"})

    assert b"wrong-token-1234" not in response.content
    assert metrics_token.encode() not in response.content


# Allowed networks.


@pytest.mark.parametrize(
    "address", ["10.0.0.1", "10.255.1.2", "2001:db8::5", "::ffff:10.1.2.3"]
)
def test_network_allowed(client, networks, address):
    response = get(client, REMOTE_ADDR=address)

    assert response.status_code == 200


@pytest.mark.parametrize("address", ["11.0.0.1", "127.0.0.1", "2001:db9::1", "bad"])
def test_network_outside(client, networks, address):
    response = get(client, REMOTE_ADDR=address)

    assert response.status_code == 403


def test_network_ignores_forwarded_for(client, networks):
    """Without trusted proxies, X-Forwarded-For is the client's own claim."""
    response = get(client, REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.0.0.1")

    assert response.status_code == 403


def test_network_behind_trusted_proxy(client, networks, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    response = get(
        client, REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.7"
    )

    assert response.status_code == 200


def test_network_spoof_behind_proxy(client, networks, settings):
    """Only the entry the trusted proxy appended counts."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    response = get(
        client, REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.0.0.7, 203.0.113.9"
    )

    assert response.status_code == 403


def test_network_or_token(client, networks, settings):
    settings.GIMLET_METRICS_TOKEN = METRICS_TOKEN

    outside = get(client, REMOTE_ADDR="192.0.2.1")
    with_token = get(
        client,
        REMOTE_ADDR="192.0.2.1",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
    )
    inside = get(client, REMOTE_ADDR="10.0.0.1")

    assert outside.status_code == 401
    assert with_token.status_code == 200
    assert inside.status_code == 200


# Methods and settings.


def test_post_not_allowed(client, metrics_token):
    response = client.post(
        "/metrics", headers={"Authorization": f"Bearer {metrics_token}"}
    )

    assert response.status_code == 405


def test_head_allowed(client, metrics_token):
    response = client.head(
        "/metrics", headers={"Authorization": f"Bearer {metrics_token}"}
    )

    assert response.status_code == 200


def test_invalid_network_setting_rejected(tmp_path):
    env = {
        "PYTHONPATH": str(BASE_DIR),
        "HOME": str(tmp_path),
        "DJANGO_SECRET_KEY": "s" * 50,
        "FIELD_ENCRYPTION_KEY": "Cf7XIPSCnDk6ipVCwuCpQpW8EHiSzDBFRk5Qsq07zkw=",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "GIMLET_METRICS_ALLOWED_NETWORKS": "10.0.0.0/8,10.0.0.300/32",
    }

    result = subprocess.run(
        [sys.executable, "-c", "import gimlet.settings"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "GIMLET_METRICS_ALLOWED_NETWORKS" in result.stderr
    assert "10.0.0.300/32" in result.stderr
