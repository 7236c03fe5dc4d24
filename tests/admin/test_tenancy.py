"""Tenants with their members inline, memberships, the read-only audit
trail, and the schedules that only superusers may edit."""

import pytest
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from gimlet.models import AuditAction, AuditEvent, Membership, Role, Tenant
from tests.factories import TenantFactory, UserFactory

pytestmark = pytest.mark.django_db


def tenant_form_data(tenant, memberships, *, extra=()):
    """POST data of the tenant form: its fields and its members inline."""
    data = {
        "name": tenant.name,
        "alert_emails": "[]",
        "memberships-TOTAL_FORMS": str(len(memberships) + len(extra)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
    }
    for index, membership in enumerate(memberships):
        data[f"memberships-{index}-id"] = membership.pk
        data[f"memberships-{index}-tenant"] = tenant.pk
        data[f"memberships-{index}-user"] = membership.user_id
        data[f"memberships-{index}-role"] = membership.role
    for offset, (user, role) in enumerate(extra):
        index = len(memberships) + offset
        data[f"memberships-{index}-tenant"] = tenant.pk
        data[f"memberships-{index}-user"] = user.pk
        data[f"memberships-{index}-role"] = role
    return data


def members(tenant):
    return list(Membership.objects.filter(tenant=tenant).order_by("pk"))


class TestTenants:
    def test_members_inline(self, client_b, world_b):
        url = reverse("admin:gimlet_tenant_change", args=[world_b.tenant.pk])

        response = client_b.get(url)

        formset = response.context["inline_admin_formsets"][0].formset
        users = {form.instance.user for form in formset.forms}
        assert users == {world_b.admin, world_b.member}

    def test_role_change_is_audited(self, client_b, world_b):
        memberships = members(world_b.tenant)
        data = tenant_form_data(world_b.tenant, memberships)
        member_index = next(
            i for i, m in enumerate(memberships) if m.user == world_b.member
        )
        data[f"memberships-{member_index}-role"] = Role.ADMIN
        url = reverse("admin:gimlet_tenant_change", args=[world_b.tenant.pk])

        response = client_b.post(url, data)

        assert response.status_code == 302, response.content.decode()[-2000:]
        membership = Membership.objects.get(tenant=world_b.tenant, user=world_b.member)
        assert membership.role == Role.ADMIN
        event = AuditEvent.objects.get(action=AuditAction.UPDATE, tenant=world_b.tenant)
        assert event.changes == {"role": ["member", "admin"]}

    def test_member_removal_is_audited(self, client_b, world_b):
        memberships = members(world_b.tenant)
        data = tenant_form_data(world_b.tenant, memberships)
        member_index = next(
            i for i, m in enumerate(memberships) if m.user == world_b.member
        )
        data[f"memberships-{member_index}-DELETE"] = "on"
        url = reverse("admin:gimlet_tenant_change", args=[world_b.tenant.pk])

        response = client_b.post(url, data)

        assert response.status_code == 302, response.content.decode()[-2000:]
        assert not Membership.objects.filter(
            tenant=world_b.tenant, user=world_b.member
        ).exists()
        assert AuditEvent.objects.filter(
            action=AuditAction.DELETE, tenant=world_b.tenant
        ).exists()

    def test_user_of_existing_member_is_fixed(self, client_b, world_b):
        memberships = members(world_b.tenant)
        data = tenant_form_data(world_b.tenant, memberships)
        member_index = next(
            i for i, m in enumerate(memberships) if m.user == world_b.member
        )
        data[f"memberships-{member_index}-user"] = world_b.admin.pk
        url = reverse("admin:gimlet_tenant_change", args=[world_b.tenant.pk])

        client_b.post(url, data)

        assert Membership.objects.filter(
            tenant=world_b.tenant, user=world_b.member
        ).exists()

    def test_superuser_adds_member_through_inline(self, client_root, world_b):
        newcomer = UserFactory(username="newcomer")
        data = tenant_form_data(
            world_b.tenant, members(world_b.tenant), extra=[(newcomer, Role.MEMBER)]
        )
        url = reverse("admin:gimlet_tenant_change", args=[world_b.tenant.pk])

        response = client_root.post(url, data)

        assert response.status_code == 302, response.content.decode()[-2000:]
        assert Membership.objects.filter(tenant=world_b.tenant, user=newcomer).exists()
        assert AuditEvent.objects.filter(
            action=AuditAction.CREATE, changes__user="newcomer"
        ).exists()

    def test_tenant_admin_may_not_add_or_delete_tenants(self, client_b, world_b):
        add = client_b.get(reverse("admin:gimlet_tenant_add"))
        delete = client_b.post(
            reverse("admin:gimlet_tenant_delete", args=[world_b.tenant.pk]),
            {"post": "yes"},
        )

        assert add.status_code == 403
        assert delete.status_code == 403
        assert Tenant.objects.filter(pk=world_b.tenant.pk).exists()

    def test_superuser_creates_tenant(self, client_root, db):
        response = client_root.post(
            reverse("admin:gimlet_tenant_add"),
            {
                "name": "Charlie",
                "slug": "charlie",
                "alert_emails": '["ops@charlie.test"]',
                "memberships-TOTAL_FORMS": "0",
                "memberships-INITIAL_FORMS": "0",
            },
        )

        assert response.status_code == 302, response.content.decode()[-2000:]
        tenant = Tenant.objects.get(slug="charlie")
        assert tenant.alert_emails == ["ops@charlie.test"]
        assert AuditEvent.objects.filter(
            tenant=tenant, action=AuditAction.CREATE
        ).exists()

    def test_superuser_deletes_tenant_with_audit_trail(self, client_root, world_b):
        url = reverse("admin:gimlet_tenant_delete", args=[world_b.tenant.pk])

        confirmation = client_root.get(url)
        client_root.post(url, {"post": "yes"})

        assert not confirmation.context["perms_lacking"]
        assert not Tenant.objects.filter(pk=world_b.tenant.pk).exists()

    def test_slug_is_read_only_when_changing(self, client_b, world_b):
        data = tenant_form_data(world_b.tenant, members(world_b.tenant))
        data["slug"] = "renamed-slug"
        data["name"] = "Bravo Renamed"
        url = reverse("admin:gimlet_tenant_change", args=[world_b.tenant.pk])

        client_b.post(url, data)

        world_b.tenant.refresh_from_db()
        assert world_b.tenant.slug == "bravo-tenant"
        assert world_b.tenant.name == "Bravo Renamed"


class TestMemberships:
    def test_add_is_audited(self, client_b, world_b):
        second = TenantFactory(name="Bravo Two")
        Membership.objects.create(user=world_b.admin, tenant=second, role=Role.ADMIN)

        response = client_b.post(
            reverse("admin:gimlet_membership_add"),
            {"tenant": second.pk, "user": world_b.member.pk, "role": "member"},
        )

        assert response.status_code == 302, response.content.decode()[-2000:]
        membership = Membership.objects.get(tenant=second, user=world_b.member)
        assert AuditEvent.objects.filter(
            tenant=second, action=AuditAction.CREATE, target_id=membership.pk
        ).exists()

    def test_duplicate_member_is_refused(self, client_b, world_b):
        response = client_b.post(
            reverse("admin:gimlet_membership_add"),
            {"tenant": world_b.tenant.pk, "user": world_b.member.pk, "role": "admin"},
        )

        assert response.status_code == 200
        assert "already exists" in response.content.decode()

    def test_role_change_is_audited(self, client_b, world_b):
        membership = Membership.objects.get(user=world_b.member, tenant=world_b.tenant)
        url = reverse("admin:gimlet_membership_change", args=[membership.pk])

        response = client_b.post(url, {"user": world_b.member.pk, "role": "admin"})

        assert response.status_code == 302, response.content.decode()[-2000:]
        membership.refresh_from_db()
        assert membership.role == Role.ADMIN
        assert AuditEvent.objects.filter(
            action=AuditAction.UPDATE, target_id=membership.pk
        ).exists()

    def test_delete_is_audited(self, client_b, world_b):
        membership = Membership.objects.get(user=world_b.member, tenant=world_b.tenant)
        url = reverse("admin:gimlet_membership_delete", args=[membership.pk])

        client_b.post(url, {"post": "yes"})

        assert not Membership.objects.filter(pk=membership.pk).exists()
        assert AuditEvent.objects.filter(
            action=AuditAction.DELETE, target_id=membership.pk
        ).exists()


class TestAuditEvents:
    def test_search(self, client_b, world_b):
        url = reverse("admin:gimlet_auditevent_changelist")

        by_target = client_b.get(url, {"q": "bravo-ghcr"})
        by_actor = client_b.get(url, {"q": "bravo-admin"})
        by_nothing = client_b.get(url, {"q": "no-such-thing"})

        assert list(by_target.context["cl"].result_list) == [world_b.audit_event]
        assert list(by_actor.context["cl"].result_list) == [world_b.audit_event]
        assert by_nothing.context["cl"].result_count == 0

    def test_read_only(self, client_b, world_b):
        url = reverse("admin:gimlet_auditevent_change", args=[world_b.audit_event.pk])

        page = client_b.get(url)
        post = client_b.post(url, {"target_repr": "rewritten"})

        assert page.status_code == 200
        assert not page.context["has_change_permission"]
        assert post.status_code == 403
        world_b.audit_event.refresh_from_db()
        assert world_b.audit_event.target_repr != "rewritten"

    def test_no_add_or_delete(self, client_root, world_b):
        add = client_root.get(reverse("admin:gimlet_auditevent_add"))
        delete = client_root.post(
            reverse("admin:gimlet_auditevent_delete", args=[world_b.audit_event.pk]),
            {"post": "yes"},
        )

        assert add.status_code == 403
        assert delete.status_code == 403
        assert AuditEvent.objects.filter(pk=world_b.audit_event.pk).exists()

    def test_changes_are_shown(self, client_b, world_b):
        url = reverse("admin:gimlet_auditevent_change", args=[world_b.audit_event.pk])

        response = client_b.get(url)

        assert "&quot;(set)&quot;" in response.content.decode()


class TestSchedules:
    def test_superuser_edits_periodic_task(self, client_root, db):
        interval = IntervalSchedule.objects.create(every=6, period="hours")
        task = PeriodicTask.objects.create(
            name="sweep-test", task="registries.sweep", interval=interval
        )
        url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])

        page = client_root.get(url)
        response = client_root.post(
            url,
            {
                "name": "sweep-test",
                "regtask": "registries.sweep",
                "task": "registries.sweep",
                "enabled": "",
                "interval": interval.pk,
                "args": "[]",
                "kwargs": "{}",
                "expire_seconds": "",
                "priority": "",
                "headers": "{}",
                "description": "",
            },
        )

        assert page.status_code == 200
        assert response.status_code == 302, response.content.decode()[-3000:]
        task.refresh_from_db()
        assert not task.enabled

    def test_tenant_admin_cannot_edit_periodic_task(self, client_b, db):
        interval = IntervalSchedule.objects.create(every=6, period="hours")
        task = PeriodicTask.objects.create(
            name="sweep-test", task="registries.sweep", interval=interval
        )
        url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])

        response = client_b.post(url, {"name": "sweep-test", "enabled": ""})

        assert response.status_code == 403
        task.refresh_from_db()
        assert task.enabled
