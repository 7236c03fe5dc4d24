"""Two tenants, A and B, with an admin and a member each, and API clients."""

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from environments.models import ImageSettings
from gimlet.models import Role
from tests.factories import (
    EnvironmentFactory,
    MembershipFactory,
    RegistryFactory,
    TenantFactory,
    UserFactory,
    certificate_pem,
    self_signed_ca,
)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Start each test with empty throttle counters and check locks."""
    cache.clear()
    yield
    cache.clear()


def client_for(user):
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@dataclass
class TenantWorld:
    tenant: object
    admin: object
    member: object
    environment: object
    builtin: object
    ghcr: object
    dockerhub: object
    custom: object
    image_settings: object

    @property
    def registries(self):
        return [self.builtin, self.ghcr, self.dockerhub, self.custom]


def make_tenant_world(name):
    tenant = TenantFactory(slug=f"tenant-{name}", name=f"Tenant {name.upper()}")
    admin = UserFactory(username=f"admin-{name}")
    member = UserFactory(username=f"member-{name}")
    MembershipFactory(tenant=tenant, user=admin, role=Role.ADMIN)
    MembershipFactory(tenant=tenant, user=member, role=Role.MEMBER)
    environment = EnvironmentFactory(tenant=tenant, name="staging")
    ca, _key = self_signed_ca(f"Tenant {name} CA")
    builtin = RegistryFactory(environment=environment)
    ghcr = RegistryFactory(environment=environment, ghcr=True)
    dockerhub = RegistryFactory(environment=environment, dockerhub=True)
    custom = RegistryFactory(
        environment=environment, custom=True, certificate=certificate_pem(ca)
    )
    image_settings = ImageSettings.objects.create(
        environment=environment, app="web", registry=ghcr
    )
    return TenantWorld(
        tenant=tenant,
        admin=admin,
        member=member,
        environment=environment,
        builtin=builtin,
        ghcr=ghcr,
        dockerhub=dockerhub,
        custom=custom,
        image_settings=image_settings,
    )


@pytest.fixture
def world_a(db):
    return make_tenant_world("a")


@pytest.fixture
def world_b(db):
    return make_tenant_world("b")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def admin_a(world_a):
    return client_for(world_a.admin)


@pytest.fixture
def member_a(world_a):
    return client_for(world_a.member)


@pytest.fixture
def admin_b(world_b):
    return client_for(world_b.admin)
