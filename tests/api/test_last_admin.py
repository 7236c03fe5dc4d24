"""A tenant keeps one admin: the API rejects demoting or removing the last."""

import threading

import pytest
from django.db import connection, connections

from gimlet.models import Membership, Role
from tests.api.conftest import client_for
from tests.conftest import require_server
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

MESSAGE = (
    "admin-a is the last admin of this tenant. Make another member an admin first."
)


def members_url(world):
    return f"/api/v1/tenants/{world.tenant.slug}/members/"


def roles(world):
    return dict(
        Membership.objects.filter(tenant=world.tenant).values_list(
            "user__username", "role"
        )
    )


def test_last_admin_cannot_demote_itself(world_a, admin_a):
    response = admin_a.patch(
        f"{members_url(world_a)}admin-a/", {"role": "member"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"role": [MESSAGE]}
    assert roles(world_a)["admin-a"] == Role.ADMIN


def test_last_admin_cannot_be_removed(world_a, superuser):
    response = client_for(superuser).delete(f"{members_url(world_a)}admin-a/")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [MESSAGE]}
    assert "admin-a" in roles(world_a)


def test_admin_with_a_successor_may_step_down(world_a, admin_a):
    MembershipFactory(
        tenant=world_a.tenant, user=UserFactory(username="heir"), role=Role.ADMIN
    )

    response = admin_a.patch(
        f"{members_url(world_a)}admin-a/", {"role": "member"}, format="json"
    )

    assert response.status_code == 200
    assert roles(world_a)["admin-a"] == Role.MEMBER


def test_member_may_be_removed_beside_last_admin(world_a, admin_a):
    response = admin_a.delete(f"{members_url(world_a)}member-a/")

    assert response.status_code == 204


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_leave_one(world_a):
    require_server("PostgreSQL", connection.vendor == "postgresql")
    MembershipFactory(
        tenant=world_a.tenant, user=UserFactory(username="twin"), role=Role.ADMIN
    )
    twin = Membership.objects.get(user__username="twin").user
    calls = [
        (client_for(world_a.admin), "twin"),
        (client_for(twin), "admin-a"),
    ]
    barrier = threading.Barrier(len(calls))
    statuses = []

    def demote(client, username):
        try:
            barrier.wait(timeout=30)
            response = client.patch(
                f"{members_url(world_a)}{username}/", {"role": "member"}, format="json"
            )
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=demote, args=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200, 400]
    assert list(roles(world_a).values()).count(Role.ADMIN) == 1
