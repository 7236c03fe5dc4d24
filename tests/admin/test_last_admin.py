"""The admin site keeps a tenant's last admin, on every page that could lose it."""

import pytest
from django.urls import reverse

from gimlet.models import Membership, Role
from tests.admin.test_tenancy import members, tenant_form_data
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def last_admin(world):
    return Membership.objects.get(tenant=world.tenant, user=world.admin)


def index_of(memberships, user):
    return next(i for i, m in enumerate(memberships) if m.user == user)


def test_change_page_refuses_demoting_last_admin(client_b, world_b):
    membership = last_admin(world_b)
    url = reverse("admin:gimlet_membership_change", args=[membership.pk])

    response = client_b.post(url, {"user": world_b.admin.pk, "role": "member"})

    assert response.status_code == 200
    assert "is the last admin of this tenant" in response.content.decode()
    assert last_admin(world_b).role == Role.ADMIN


def test_delete_page_refuses_last_admin(client_b, world_b):
    membership = last_admin(world_b)
    url = reverse("admin:gimlet_membership_delete", args=[membership.pk])

    page = client_b.get(url)
    client_b.post(url, {"post": "yes"})

    assert "the last admin of" in page.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_bulk_delete_refuses_last_admin(client_b, world_b):
    membership = last_admin(world_b)

    client_b.post(
        reverse("admin:gimlet_membership_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [membership.pk],
            "post": "yes",
        },
    )

    assert Membership.objects.filter(pk=membership.pk).exists()


def test_bulk_delete_of_member_goes_ahead(client_b, world_b):
    membership = Membership.objects.get(tenant=world_b.tenant, user=world_b.member)

    client_b.post(
        reverse("admin:gimlet_membership_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [membership.pk],
            "post": "yes",
        },
    )

    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_tenant_page_refuses_demoting_last_admin(client_b, world_b):
    memberships = members(world_b.tenant)
    data = tenant_form_data(world_b.tenant, memberships)
    data[f"memberships-{index_of(memberships, world_b.admin)}-role"] = Role.MEMBER
    url = reverse("admin:gimlet_tenant_change", args=[world_b.tenant.pk])

    response = client_b.post(url, data)

    assert response.status_code == 200
    assert "A tenant needs at least one admin" in response.content.decode()
    assert last_admin(world_b).role == Role.ADMIN


def test_tenant_page_refuses_removing_last_admin(client_b, world_b):
    memberships = members(world_b.tenant)
    data = tenant_form_data(world_b.tenant, memberships)
    data[f"memberships-{index_of(memberships, world_b.admin)}-DELETE"] = "on"
    url = reverse("admin:gimlet_tenant_change", args=[world_b.tenant.pk])

    response = client_b.post(url, data)

    assert response.status_code == 200
    assert Membership.objects.filter(tenant=world_b.tenant, user=world_b.admin).exists()


def test_tenant_page_hands_admin_over_in_one_save(client_b, world_b):
    memberships = members(world_b.tenant)
    data = tenant_form_data(world_b.tenant, memberships)
    data[f"memberships-{index_of(memberships, world_b.admin)}-role"] = Role.MEMBER
    data[f"memberships-{index_of(memberships, world_b.member)}-role"] = Role.ADMIN
    url = reverse("admin:gimlet_tenant_change", args=[world_b.tenant.pk])

    response = client_b.post(url, data)

    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Membership.objects.get(user=world_b.member).role == Role.ADMIN
    # The former admin may no longer list tenants: sent to the index.
    assert response["Location"] == reverse("admin:index")
    assert client_b.get(response["Location"]).status_code == 200


@pytest.fixture
def root_client(client, db):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    return client


def test_user_delete_refuses_a_tenants_last_admin(root_client, world_b):
    url = reverse("admin:auth_user_delete", args=[world_b.admin.pk])

    page = root_client.get(url)
    root_client.post(url, {"post": "yes"})

    assert "the last admin of" in page.content.decode()
    assert type(world_b.admin).objects.filter(pk=world_b.admin.pk).exists()


def test_bulk_user_delete_refuses_a_tenants_last_admin(root_client, world_b):
    root_client.post(
        reverse("admin:auth_user_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [world_b.admin.pk, world_b.member.pk],
            "post": "yes",
        },
    )

    assert type(world_b.admin).objects.filter(pk=world_b.admin.pk).exists()


def test_user_delete_of_a_member_goes_ahead(root_client, world_b):
    url = reverse("admin:auth_user_delete", args=[world_b.member.pk])

    root_client.post(url, {"post": "yes"})

    assert not type(world_b.member).objects.filter(pk=world_b.member.pk).exists()
