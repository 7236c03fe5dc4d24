"""One tenant with an admin who uses both the API and the admin site."""

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.test import Client

from gimlet.models import Role
from tests.api.conftest import client_for
from tests.factories import (
    EnvironmentFactory,
    MembershipFactory,
    TenantFactory,
    UserFactory,
)
from tests.security.fakes import FakeUpstream, reset_broker_pools
from tests.smtp import SmtpServer
from tests.worker import Worker, flush_redis, require_worker_services

CUSTOM_URL = "https://registry.gimlet.test"


@dataclass
class Tenant:
    tenant: object
    admin: object
    environment: object
    other_environment: object


@pytest.fixture
def world(db):
    tenant = TenantFactory(slug="canary-corp", name="Canary Corp")
    admin = UserFactory(
        username="canary-admin", email="admin@canary.test", is_staff=True
    )
    MembershipFactory(tenant=tenant, user=admin, role=Role.ADMIN)
    environment = EnvironmentFactory(tenant=tenant, name="production")
    # An environment of a tenant the admin does not belong to.
    other_environment = EnvironmentFactory(name="elsewhere")
    return Tenant(tenant, admin, environment, other_environment)


@pytest.fixture
def api(world):
    """An API client authenticated with the tenant admin's token."""
    return client_for(world.admin)


@pytest.fixture
def admin_site(world):
    client = Client()
    client.force_login(world.admin)
    return client


@pytest.fixture(autouse=True)
def _empty_cache():
    """Start with no throttle counts or locks from another test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def upstream():
    with FakeUpstream() as server:
        yield server


@pytest.fixture
def start_worker(tmp_path, upstream, smtp):
    """Start real workers whose GitHub and Docker Hub are the fake upstream."""
    workers = []

    def start(**env):
        settings = {
            "GIMLET_GITHUB_API_URL": upstream.url,
            "GIMLET_GHCR_URL": upstream.url,
            "GIMLET_DOCKERHUB_AUTH_URL": upstream.url,
            "GIMLET_REGISTRY_ALLOWED_NETWORKS": "127.0.0.0/8",
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
            **env,
        }
        worker = Worker(tmp_path / f"worker-{len(workers)}.log", **settings)
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def services():
    """The broker and database a real worker needs, with an empty Redis."""
    require_worker_services()
    reset_broker_pools()
    flush_redis()
    yield
    flush_redis()
