"""What members, tenant admins and superusers of one tenant may do."""

import pytest

from tests.api.conftest import client_for
from tests.api.snapshots import database_snapshot
from tests.factories import EnvironmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def writes(world, outsider):
    """(case, method, url, body, expected status for an admin) per write."""
    environment = f"/api/v1/environments/{world.environment.pk}/"
    empty = EnvironmentFactory(tenant=world.tenant, name="empty")
    builtin = f"/api/v1/registries/{world.builtin.pk}/"
    settings = f"/api/v1/image-settings/{world.image_settings.pk}/"
    members = f"/api/v1/tenants/{world.tenant.slug}/members/"
    return [
        (
            "create environment",
            "post",
            "/api/v1/environments/",
            {"tenant": world.tenant.slug, "name": "production"},
            201,
        ),
        ("rename environment", "patch", environment, {"name": "stage"}, 200),
        ("replace environment", "put", environment, {"name": "stage"}, 200),
        (
            "delete environment",
            "delete",
            f"/api/v1/environments/{empty.pk}/",
            None,
            204,
        ),
        (
            "create registry",
            "post",
            "/api/v1/registries/",
            {"environment": world.environment.pk, "kind": "builtin", "name": "b2"},
            201,
        ),
        ("rename registry", "patch", builtin, {"name": "local"}, 200),
        ("delete registry", "delete", builtin, None, 204),
        (
            "create image settings",
            "post",
            "/api/v1/image-settings/",
            {
                "environment": world.environment.pk,
                "app": "api",
                "registry": world.ghcr.pk,
            },
            201,
        ),
        ("change image settings", "patch", settings, {"tag": "v2"}, 200),
        ("delete image settings", "delete", settings, None, 204),
        (
            "rename tenant",
            "patch",
            f"/api/v1/tenants/{world.tenant.slug}/",
            {"name": "Renamed"},
            200,
        ),
        ("list members", "get", members, None, 200),
        ("add member", "post", members, {"username": outsider.username}, 201),
        (
            "change member",
            "patch",
            f"{members}{world.member.username}/",
            {"role": "admin"},
            200,
        ),
        ("remove member", "delete", f"{members}{world.member.username}/", None, 204),
        (
            "export pull secret",
            "get",
            f"/api/v1/environments/{world.environment.pk}/pull-secret/",
            None,
            200,
        ),
    ]


WRITE_CASES = [
    "create environment",
    "rename environment",
    "replace environment",
    "delete environment",
    "create registry",
    "rename registry",
    "delete registry",
    "create image settings",
    "change image settings",
    "delete image settings",
    "rename tenant",
    "list members",
    "add member",
    "change member",
    "remove member",
    "export pull secret",
]


def write_case(world, outsider, name):
    cases = {case[0]: case for case in writes(world, outsider)}
    assert sorted(cases) == sorted(WRITE_CASES)
    return cases[name]


def request(client, method, url, body):
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


@pytest.mark.parametrize("name", WRITE_CASES)
def test_member_write_is_forbidden(name, world_a, member_a, outsider):
    case, method, url, body, _ = write_case(world_a, outsider, name)
    before = database_snapshot()

    response = request(member_a, method, url, body)

    assert response.status_code == 403, case
    assert database_snapshot() == before


@pytest.mark.parametrize("name", WRITE_CASES)
def test_admin_write_is_allowed(name, world_a, admin_a, outsider):
    case, method, url, body, expected = write_case(world_a, outsider, name)

    response = request(admin_a, method, url, body)

    assert response.status_code == expected, (case, response.content)


@pytest.mark.parametrize("name", WRITE_CASES)
def test_superuser_write_is_allowed(name, world_a, superuser, outsider):
    case, method, url, body, expected = write_case(world_a, outsider, name)

    response = request(client_for(superuser), method, url, body)

    assert response.status_code == expected, (case, response.content)


def test_member_may_validate(world_a, member_a):
    response = member_a.post(f"/api/v1/registries/{world_a.builtin.pk}/validate/")

    assert response.status_code == 200
    assert response.json()["checked_at"] is not None


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tenants/",
        "/api/v1/tenants/tenant-a/",
        "/api/v1/environments/",
        "/api/v1/registries/",
        "/api/v1/image-settings/",
    ],
)
def test_member_reads(path, world_a, member_a):
    response = member_a.get(path)

    assert response.status_code == 200


def test_member_invalid_create_is_forbidden(world_a, member_a):
    """A member is refused before the rest of the body is validated."""
    response = member_a.post(
        "/api/v1/registries/",
        {"environment": world_a.environment.pk, "kind": "ghcr", "token": "bad"},
        format="json",
    )

    assert response.status_code == 403


@pytest.mark.parametrize("client_name", ["admin_a", "member_a"])
def test_only_superusers_create_tenants(client_name, request):
    client = request.getfixturevalue(client_name)

    response = client.post(
        "/api/v1/tenants/", {"slug": "new", "name": "New"}, format="json"
    )

    assert response.status_code == 403


def test_superuser_creates_tenant(superuser):
    response = client_for(superuser).post(
        "/api/v1/tenants/", {"slug": "new", "name": "New"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["role"] == "admin"


def test_anonymous_is_unauthorized(world_a):
    response = client_for(None).get("/api/v1/registries/")

    assert response.status_code == 401
