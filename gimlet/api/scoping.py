"""Tenant scoping for the REST API.

DRF authenticates tokens inside the view, after TenantScopeMiddleware has
chosen a scope for the session user, so every API view enters the scope of
the authenticated user itself. On top of that fail-closed scope, querysets
and submitted ids are filtered by tenant explicitly: an object of another
tenant is reported exactly like one that does not exist.
"""

from contextlib import ExitStack

from django_scopes import scope, scopes_disabled
from rest_framework import exceptions, serializers

from gimlet.models import Membership, Role

# Attribute of the request that caches the user's roles for its lifetime.
ROLES_ATTRIBUTE = "_gimlet_tenant_roles"
# Attribute of a user object that token authentication has just read,
# carrying the roles read in the same query.
USER_ROLES_ATTRIBUTE = "_gimlet_authenticated_roles"


def remember_tenant_roles(user, roles):
    """Hand the roles read with `user` over to the request being authenticated.

    Only authentication calls this, on a user object it has just read for
    one request.
    """
    setattr(user, USER_ROLES_ATTRIBUTE, roles)


def tenant_roles(request):
    """Return {tenant id: role} for the request's user, read once per request."""
    cached = getattr(request, ROLES_ATTRIBUTE, None)
    if cached is not None:
        return cached
    roles = getattr(request.user, USER_ROLES_ATTRIBUTE, None)
    if roles is not None:
        setattr(request, ROLES_ATTRIBUTE, roles)
        return roles
    roles = {}
    if request.user.is_authenticated:
        with scopes_disabled():
            memberships = Membership.objects.filter(user=request.user)
            roles = dict(memberships.values_list("tenant_id", "role"))
    setattr(request, ROLES_ATTRIBUTE, roles)
    return roles


def visible_tenant_ids(request):
    """Return the ids of the tenants the user may see, or None for all."""
    if request.user.is_superuser:
        return None
    return list(tenant_roles(request))


def is_tenant_admin(request, tenant_id):
    if request.user.is_superuser:
        return True
    return tenant_roles(request).get(tenant_id) == Role.ADMIN


def tenant_id_of(obj, tenant_path):
    """Follow `tenant_path` ("environment__tenant") from obj to a tenant id."""
    *steps, last = tenant_path.split("__")
    for step in steps:
        obj = getattr(obj, step)
    if last == "pk":
        return obj.pk
    return getattr(obj, f"{last}_id")


def filter_by_tenant(queryset, request, tenant_path):
    tenant_ids = visible_tenant_ids(request)
    if tenant_ids is None:
        return queryset
    return queryset.filter(**{f"{tenant_path}__in": tenant_ids})


class TenantScopeMixin:
    """Run the view inside the tenant scope of the authenticated user.

    The scope is entered once DRF has authenticated the request and left
    when `dispatch` has rendered the response or raised. Superusers run
    unscoped, like the admin site. Every other user gets the tenants of
    their memberships, through the same call as `gimlet.tenancy.user_scope`
    but without its second query for the tenant ids.
    """

    def dispatch(self, request, *args, **kwargs):
        with ExitStack() as stack:
            self._scope_stack = stack
            response = super().dispatch(request, *args, **kwargs)
            # Render inside the scope too: the browsable API queries the
            # choices of its forms while it renders, which Django would
            # otherwise do after the view has returned.
            if hasattr(response, "render"):
                response.render()
            return response

    def initial(self, request, *args, **kwargs):
        # PostgreSQL cannot compare text with a NUL character (DataError),
        # and no slug, user name or id contains one.
        if any("\x00" in str(value) for value in kwargs.values()):
            raise exceptions.NotFound()
        super().initial(request, *args, **kwargs)
        tenant_ids = visible_tenant_ids(request)
        if tenant_ids is None:
            self._scope_stack.enter_context(scopes_disabled())
        else:
            self._scope_stack.enter_context(scope(tenant=tenant_ids))


class TenantScopedFieldMixin:
    """Limit a related field's choices to the tenants the user may see.

    The filter applies to submitted values and to the browsable API's
    choices alike, and an id of another tenant fails with the field's
    `does_not_exist` message, the same as an id that does not exist.

    The queryset is built from `model` at each use, inside the request's
    scope: a queryset made at import time would keep the scope, or the
    missing scope, of that moment. `prepare` adjusts it, for example to
    defer encrypted columns.
    """

    def __init__(self, *, model, tenant_path, prepare=None, **kwargs):
        self.tenant_path = tenant_path
        self.prepare = prepare
        if not kwargs.get("read_only"):
            # An empty, unscoped queryset that gives DRF and the schema
            # generator the model. get_queryset() never reads from it.
            kwargs["queryset"] = model._base_manager.none()
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return self.queryset
        queryset = self.queryset.model.objects.all()
        if self.prepare is not None:
            queryset = self.prepare(queryset)
        return filter_by_tenant(queryset, request, self.tenant_path)


class TenantScopedPrimaryKeyRelatedField(
    TenantScopedFieldMixin, serializers.PrimaryKeyRelatedField
):
    pass


class SlugRelatedField(serializers.SlugRelatedField):
    """A slug field that treats a value with a NUL character as not found.

    Such a value matches no row, and PostgreSQL raises DataError instead of
    comparing it.
    """

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)


class TenantScopedSlugRelatedField(TenantScopedFieldMixin, SlugRelatedField):
    pass
