"""Fail-closed tenant scoping.

Tenant-owned models use django-scopes' ScopedManager on the `tenant`
dimension: a query made outside an active scope raises ScopeError instead of
returning every tenant's rows. Requests enter a scope here; Celery tasks and
management commands enter the one they need themselves.
"""

from contextlib import contextmanager

from django_scopes import scope, scopes_disabled

from gimlet.models import Membership, Role


def tenant_ids_for(user, *, role=None):
    """Return the ids of the tenants `user` belongs to, with `role` if given."""
    if not user.is_authenticated:
        return []
    with scopes_disabled():
        memberships = Membership.objects.filter(user=user)
        if role is not None:
            memberships = memberships.filter(role=role)
        return list(memberships.values_list("tenant_id", flat=True))


def admin_tenant_ids_for(user):
    return tenant_ids_for(user, role=Role.ADMIN)


def role_in(user, tenant_id):
    """Return the user's role in the tenant, or None for a non-member."""
    if not user.is_authenticated:
        return None
    with scopes_disabled():
        return (
            Membership.objects.filter(user=user, tenant_id=tenant_id)
            .values_list("role", flat=True)
            .first()
        )


@contextmanager
def user_scope(user):
    """Scope queries to the tenants `user` may see; superusers see all."""
    if user.is_authenticated and user.is_superuser:
        with scopes_disabled():
            yield
        return
    with scope(tenant=tenant_ids_for(user)):
        yield


class TenantScopeMiddleware:
    """Run each request inside the scope of the user's tenants.

    Anonymous requests get an empty scope, so a tenant-owned query they
    reach returns nothing. The API enters the scope again after token
    authentication, which happens after middleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with user_scope(request.user):
            return self.get_response(request)
