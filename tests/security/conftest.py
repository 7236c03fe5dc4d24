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
