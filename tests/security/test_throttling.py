"""Throttled views keep working, or reject cleanly, when the cache is down."""

from unittest import mock

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from gimlet.api import throttling
from registries.models import Kind, Registry

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache_down(monkeypatch):
    """Make every cache read of the throttles fail as with Redis stopped."""
    monkeypatch.setattr(throttling.ScopedRateThrottle, "outage_logged", False)
    error = RedisConnectionError("Error 111 connecting to 127.0.0.1:6379.")
    with mock.patch.object(
        throttling.ScopedRateThrottle.cache, "get", side_effect=error
    ):
        yield


def test_export_allowed_without_cache(world, api, cache_down):
    Registry.objects.create(
        environment=world.environment,
        kind=Kind.GHCR,
        url="ghcr.io",
        login="octocat",
        token="ghp_" + "T" * 36,
    )

    response = api.get(f"/api/v1/environments/{world.environment.pk}/pull-secret/")

    assert response.status_code == 200
    assert "ghcr.io" in response.json()["auths"]


def test_password_exchange_refused_without_cache(world, api, cache_down):
    response = api.post(
        "/api/v1/auth/token/",
        {"username": world.admin.username, "password": "pw-for-tests-1"},
        format="json",
    )

    assert response.status_code == 429
    assert response["Retry-After"] == str(throttling.RETRY_SECONDS)


def test_outage_logged_once(world, api, cache_down, caplog):
    url = f"/api/v1/environments/{world.environment.pk}/pull-secret/"

    for _ in range(3):
        api.get(url)

    warnings = [r for r in caplog.records if r.name == "gimlet.api.throttling"]
    assert len(warnings) == 1
    assert "throttle scope pull-secret allows" in warnings[0].getMessage()


def test_throttle_still_counts(world, api, settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    url = f"/api/v1/environments/{world.environment.pk}/pull-secret/"

    with mock.patch.dict(rates, {"pull-secret": "2/minute"}):
        statuses = [api.get(url).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
