"""Tenants with the caller's role, and the members of a tenant."""

import pytest

from gimlet.models import AuditAction, AuditEvent, Membership, Role
from tests.api.conftest import client_for
from tests.factories import MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_tenants_show_callers_role(world_a, world_b):
    other = TenantFactory(slug="other")
    MembershipFactory(tenant=other, user=world_a.admin, role=Role.MEMBER)

    response = client_for(world_a.admin).get("/api/v1/tenants/")

    rows = {row["slug"]: row["role"] for row in response.json()["results"]}
    assert rows == {"other": "member", "tenant-a": "admin"}


def test_tenant_fields(world_a, member_a):
    response = member_a.get("/api/v1/tenants/tenant-a/")

    assert set(response.json()) == {
        "slug",
        "name",
        "role",
        "alert_emails",
        "created_at",
    }
    assert response.json()["role"] == "member"


def test_superuser_sees_every_tenant_as_admin(world_a, world_b, superuser):
    response = client_for(superuser).get("/api/v1/tenants/")

    rows = {row["slug"]: row["role"] for row in response.json()["results"]}
    assert rows == {"tenant-a": "admin", "tenant-b": "admin"}


def test_tenant_filter_by_slug(world_a, superuser, world_b):
    response = client_for(superuser).get("/api/v1/tenants/", {"slug": "tenant-b"})

    assert [row["slug"] for row in response.json()["results"]] == ["tenant-b"]


def test_superuser_creates_tenant_audited(superuser):
    client = client_for(superuser)

    response = client.post(
        "/api/v1/tenants/",
        {"slug": "acme", "name": "Acme", "alert_emails": ["ops@acme.test"]},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["alert_emails"] == ["ops@acme.test"]
    assert AuditEvent.objects.filter(
        tenant__slug="acme", action=AuditAction.CREATE
    ).exists()


@pytest.mark.parametrize(
    "body,field",
    [
        ({"slug": "tenant-a", "name": "Again"}, "slug"),
        ({"slug": "Not A Slug", "name": "Bad"}, "slug"),
        ({"slug": "ok", "name": ""}, "name"),
        (
            {"slug": "ok", "name": "Ok", "alert_emails": ["not-an-email"]},
            "alert_emails",
        ),
        ({"slug": "ok", "name": "Ok", "alert_emails": "ops@acme.test"}, "alert_emails"),
    ],
)
def test_tenant_create_rejects(body, field, world_a, superuser):
    response = client_for(superuser).post("/api/v1/tenants/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_admin_renames_tenant_and_keeps_slug(world_a, admin_a):
    response = admin_a.patch(
        "/api/v1/tenants/tenant-a/",
        {"name": "Renamed", "slug": "changed"},
        format="json",
    )

    world_a.tenant.refresh_from_db()
    assert response.status_code == 200
    assert world_a.tenant.name == "Renamed"
    assert world_a.tenant.slug == "tenant-a"


def test_tenants_cannot_be_deleted(world_a, superuser):
    response = client_for(superuser).delete("/api/v1/tenants/tenant-a/")

    assert response.status_code == 405


MEMBERS = "/api/v1/tenants/tenant-a/members/"


def test_members_list(world_a, admin_a):
    response = admin_a.get(MEMBERS)

    rows = {row["username"]: row["role"] for row in response.json()["results"]}
    assert rows == {"admin-a": "admin", "member-a": "member"}


def test_add_member_by_username(world_a, admin_a):
    newcomer = UserFactory(username="new.person@example")

    response = admin_a.post(
        MEMBERS, {"username": "new.person@example", "role": "admin"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["username"] == "new.person@example"
    membership = Membership.objects.get(user=newcomer, tenant=world_a.tenant)
    assert membership.role == Role.ADMIN


def test_add_member_defaults_to_member(world_a, admin_a):
    UserFactory(username="plain")

    response = admin_a.post(MEMBERS, {"username": "plain"}, format="json")

    assert response.json()["role"] == "member"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"username": "nobody"}, "username"),
        ({"username": "member-a"}, "non_field_errors"),
        ({"username": "plain", "role": "owner"}, "role"),
        ({}, "username"),
    ],
)
def test_add_member_rejects(body, field, world_a, admin_a):
    UserFactory(username="plain")

    response = admin_a.post(MEMBERS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_add_inactive_user_is_not_found(world_a, admin_a):
    UserFactory(username="gone", is_active=False)

    response = admin_a.post(MEMBERS, {"username": "gone"}, format="json")

    assert response.status_code == 400
    assert "No active user named gone" in response.json()["username"][0]


def test_change_member_role_by_username(world_a, admin_a):
    response = admin_a.patch(f"{MEMBERS}member-a/", {"role": "admin"}, format="json")

    assert response.status_code == 200
    assert Membership.objects.get(user=world_a.member).role == Role.ADMIN


def test_username_cannot_change(world_a, admin_a):
    response = admin_a.patch(
        f"{MEMBERS}member-a/", {"username": "admin-a"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["username"] == "member-a"


def test_remove_member_audited(world_a, admin_a):
    response = admin_a.delete(f"{MEMBERS}member-a/")

    assert response.status_code == 204
    assert not Membership.objects.filter(user=world_a.member).exists()
    assert AuditEvent.objects.filter(
        tenant=world_a.tenant, action=AuditAction.DELETE, changes__user="member-a"
    ).exists()


def test_member_of_other_tenant_is_not_found(world_a, world_b, admin_a):
    response = admin_a.get(f"{MEMBERS}{world_b.member.username}/")

    assert response.status_code == 404
