"""Two tenants for the admin tests: Acme (A) and Bravo (B).

Every name of tenant A contains "acme", so a page that leaks one of its
rows shows the word. Tenant B's admin is a staff user who is also a plain
member of A: the admin must follow the admin role, not membership alone.
Tokens contain the canary "C4n4ry", which no page may ever show.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from environments.models import ImageSettings
from gimlet.models import AuditAction, AuditEvent, Role
from registries.models import Alert, AlertKind, Check, Status, Trigger
from tests.factories import (
    EnvironmentFactory,
    MembershipFactory,
    RegistryFactory,
    TenantFactory,
    UserFactory,
    certificate_pem,
    self_signed_ca,
)

CANARY = "C4n4ry"
GHCR_TOKEN = "ghp_" + CANARY * 6
DOCKERHUB_TOKEN = "dckr_pat_" + CANARY * 4
CUSTOM_TOKEN = f"{CANARY}-custom-{CANARY}"
# The management form of the registry form's read-only check history.
CHECKS_INLINE = {"checks-TOTAL_FORMS": "0", "checks-INITIAL_FORMS": "0"}


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
    certificate: str
    image_settings: object
    check: object
    alert: object
    audit_event: object

    @property
    def registries(self):
        return [self.builtin, self.ghcr, self.dockerhub, self.custom]


def make_world(name):
    """Create a tenant whose every name contains `name`, with one of each row."""
    now = timezone.now()
    tenant = TenantFactory(slug=f"{name}-tenant", name=f"{name.title()} Corp")
    admin = UserFactory(username=f"{name}-admin", is_staff=True)
    member = UserFactory(username=f"{name}-member", is_staff=True)
    MembershipFactory(tenant=tenant, user=admin, role=Role.ADMIN)
    MembershipFactory(tenant=tenant, user=member, role=Role.MEMBER)

    environment = EnvironmentFactory(tenant=tenant, name=f"{name}-env")
    ca, _key = self_signed_ca(f"{name.title()} CA", valid_days=10)
    certificate = certificate_pem(ca)

    builtin = RegistryFactory(environment=environment, name=f"{name}-builtin")
    ghcr = RegistryFactory(
        environment=environment,
        ghcr=True,
        name=f"{name}-ghcr",
        login=f"{name}octocat",
        token=GHCR_TOKEN,
        status=Status.VALID,
        status_message=f"GitHub accepted the token of {name}octocat.",
        checked_at=now - timedelta(minutes=5),
        expires_at=now + timedelta(days=20),
        expires_at_source="registry",
    )
    dockerhub = RegistryFactory(
        environment=environment,
        dockerhub=True,
        name=f"{name}-hub",
        login=f"{name}hub",
        token=DOCKERHUB_TOKEN,
        status=Status.INVALID,
        status_message="Docker Hub rejected the login.",
        checked_at=now - timedelta(hours=2),
    )
    custom = RegistryFactory(
        environment=environment,
        custom=True,
        name=f"{name}-custom",
        login=f"{name}-robot",
        url=f"https://registry.{name}.test",
        token=CUSTOM_TOKEN,
        certificate=certificate,
        status=Status.UNREACHABLE,
        status_message=f"Could not connect to registry.{name}.test.",
        checked_at=now - timedelta(hours=1),
    )

    image_settings = ImageSettings.objects.create(
        environment=environment, app=f"{name}-app", registry=ghcr
    )
    check = Check.objects.create(
        registry=ghcr,
        status=Status.VALID,
        message=f"GitHub accepted the token of {name}octocat.",
        trigger=Trigger.MANUAL,
    )
    alert = Alert.objects.create(
        registry=custom,
        kind=AlertKind.CERTIFICATE_EXPIRY,
        threshold_days=14,
        fingerprint=custom.certificate_fingerprint,
        detail=f"{name.title()} CA",
    )
    audit_event = AuditEvent.objects.create(
        tenant=tenant,
        actor=admin,
        action=AuditAction.CREATE,
        target_type="registries.registry",
        target_id=ghcr.pk,
        target_repr=f"{name}-ghcr (GitHub Container Registry)",
        changes={"token": [None, "(set)"]},
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
        certificate=certificate,
        image_settings=image_settings,
        check=check,
        alert=alert,
        audit_event=audit_event,
    )


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Start each test without check locks or paused hosts."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Record the checks that saves enqueue instead of sending them."""
    queued = []
    monkeypatch.setattr(
        "registries.tasks.check_registry.delay", lambda *args: queued.append(args)
    )
    return queued


@pytest.fixture
def queued_checks(_no_broker):
    return _no_broker


@pytest.fixture
def world_a(db):
    return make_world("acme")


@pytest.fixture
def world_b(db, world_a):
    world = make_world("bravo")
    # B's admin is a plain member of A, which grants no admin access to A.
    MembershipFactory(tenant=world_a.tenant, user=world.admin, role=Role.MEMBER)
    return world


@pytest.fixture
def client_b(client, world_b):
    client.force_login(world_b.admin)
    return client


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def client_root(client, superuser):
    client.force_login(superuser)
    return client
