"""Users of tenant B calling every API route with tenant A's ids.

The routes come from the router, so a new route or method is covered (or
fails the test for want of ids) without editing this file.
"""

import pytest
from django.urls import reverse

from gimlet.api_urls import router
from tests.api.conftest import client_for
from tests.api.snapshots import database_snapshot

pytestmark = pytest.mark.django_db

METHODS = ["get", "post", "put", "patch", "delete", "options", "head"]
# Lookup values that name nothing in any tenant.
MISSING = {
    "pk": 987654,
    "slug": "no-such-tenant",
    "tenant_slug": "no-such-tenant",
    "username": "nobody",
}


def lookups_of_a(world_a, basename):
    """URL kwargs naming tenant A's object of each router basename."""
    return {
        "tenant": {"slug": world_a.tenant.slug},
        "member": {
            "tenant_slug": world_a.tenant.slug,
            "username": world_a.member.username,
        },
        "environment": {"pk": world_a.environment.pk},
        "registry": {"pk": world_a.ghcr.pk},
        "imagesettings": {"pk": world_a.image_settings.pk},
    }[basename]


def router_routes():
    """(url name, basename, kwarg names, {method: action}) for each URL."""
    routes = []
    for pattern in router.urls:
        actions = getattr(pattern.callback, "actions", None)
        if actions is None:
            continue  # the API root view
        basename = pattern.callback.initkwargs["basename"]
        kwargs = sorted(pattern.pattern.regex.groupindex)
        routes.append((pattern.name, basename, kwargs, actions))
    return routes


ROUTES = router_routes()
DETAIL_ROUTES = [route for route in ROUTES if route[2]]


def body_for(method, world_b):
    # A valid body, so that a rejection is about the object and not the
    # input.
    if method in {"put", "patch"}:
        return {"name": "taken-over", "role": "admin", "app": "taken-over"}
    if method == "post":
        return {"environment": world_b.environment.pk, "kind": "builtin"}
    return None


def call(client, method, url, body):
    if method in {"get", "options", "head", "delete"}:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


@pytest.fixture(params=["admin", "member"])
def caller_b(request, world_b):
    return client_for(getattr(world_b, request.param))


def test_router_has_detail_routes():
    basenames = {basename for _, basename, _, _ in DETAIL_ROUTES}

    assert basenames == {
        "tenant",
        "member",
        "environment",
        "registry",
        "imagesettings",
    }


@pytest.mark.parametrize(
    "route", DETAIL_ROUTES, ids=[name for name, _, _, _ in DETAIL_ROUTES]
)
@pytest.mark.parametrize("method", METHODS)
def test_foreign_ids_look_missing(route, method, world_a, world_b, caller_b):
    """Tenant A's object gets the response of a missing one, a 404."""
    name, basename, kwarg_names, actions = route
    lookups = lookups_of_a(world_a, basename)
    assert set(kwarg_names) <= set(lookups)
    foreign = {key: lookups[key] for key in kwarg_names}
    missing = {key: MISSING[key] for key in kwarg_names}
    body = body_for(method, world_b)
    before = database_snapshot()

    response = call(caller_b, method, reverse(name, kwargs=foreign), body)
    reference = call(caller_b, method, reverse(name, kwargs=missing), body)

    assert database_snapshot() == before
    assert response.status_code == reference.status_code
    assert response.content == reference.content
    if method in actions and method not in {"options", "head"}:
        assert response.status_code == 404


@pytest.mark.parametrize("method", ["get", "post"])
def test_foreign_tenant_members_look_missing(method, world_a, world_b, caller_b):
    url = reverse("member-list", kwargs={"tenant_slug": world_a.tenant.slug})
    before = database_snapshot()

    response = call(caller_b, method, url, {"username": world_b.member.username})

    assert response.status_code == 404
    assert database_snapshot() == before


def create_bodies(world_a, world_b):
    """Create bodies per list route that each carry one id of tenant A."""
    return {
        "environment-list": [
            ("tenant", {"tenant": world_a.tenant.slug, "name": "intruder"}),
        ],
        "registry-list": [
            ("environment", {"environment": world_a.environment.pk, "kind": "builtin"}),
        ],
        "imagesettings-list": [
            (
                "environment",
                {
                    "environment": world_a.environment.pk,
                    "app": "intruder",
                    "registry": world_b.ghcr.pk,
                },
            ),
            (
                "registry",
                {
                    "environment": world_b.environment.pk,
                    "app": "intruder",
                    "registry": world_a.ghcr.pk,
                },
            ),
        ],
        # Creating tenants is for superusers; B's users get 403 for any body.
        "tenant-list": [],
        "member-list": [],
    }


def missing_version(body, field):
    replaced = dict(body)
    replaced[field] = MISSING["slug"] if field == "tenant" else MISSING["pk"]
    return replaced


def test_every_create_route_has_bodies(world_a, world_b):
    bodies = create_bodies(world_a, world_b)
    creating = {
        name for name, _, _, actions in ROUTES if actions.get("post") == "create"
    }

    assert creating == set(bodies)


BODY_CASES = [
    ("environment-list", 0),
    ("registry-list", 0),
    ("imagesettings-list", 0),
    ("imagesettings-list", 1),
]


@pytest.mark.parametrize("route_name,case", BODY_CASES)
def test_foreign_ids_in_body_are_not_found(route_name, case, world_a, world_b):
    """Admins of B get "not found" for A's ids, as for ids that do not exist.

    Members of B are refused earlier, with 403, when the body names their
    own tenant, and get the same "not found" when it names tenant A.
    """
    caller_b = client_for(world_b.admin)
    field, body = create_bodies(world_a, world_b)[route_name][case]
    url = reverse(route_name)
    before = database_snapshot()

    response = caller_b.post(url, body, format="json")
    reference = caller_b.post(url, missing_version(body, field), format="json")

    assert database_snapshot() == before
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert "not found" in response.json()[field][0]
    # The message names the submitted value, so compare its shape.
    foreign_id = str(body[field])
    missing_id = str(missing_version(body, field)[field])
    assert response.json()[field][0].replace(foreign_id, "X") == reference.json()[
        field
    ][0].replace(missing_id, "X")


@pytest.mark.parametrize("route_name,case", BODY_CASES[:3])
def test_member_foreign_ids_are_not_found(route_name, case, world_a, world_b):
    caller_b = client_for(world_b.member)
    field, body = create_bodies(world_a, world_b)[route_name][case]

    response = caller_b.post(reverse(route_name), body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_foreign_registry_in_update_is_not_found(world_a, world_b):
    client = client_for(world_b.admin)
    url = reverse("imagesettings-detail", kwargs={"pk": world_b.image_settings.pk})
    before = database_snapshot()

    response = client.patch(url, {"registry": world_a.ghcr.pk}, format="json")

    assert response.status_code == 400
    assert response.json() == {"registry": [f"Registry {world_a.ghcr.pk} not found."]}
    assert database_snapshot() == before


@pytest.mark.parametrize(
    "route_name,param,value",
    [
        ("environment-list", "tenant", lambda a: a.tenant.slug),
        ("registry-list", "tenant", lambda a: a.tenant.slug),
        ("registry-list", "environment", lambda a: a.environment.pk),
        ("imagesettings-list", "environment", lambda a: a.environment.pk),
        ("imagesettings-list", "registry", lambda a: a.ghcr.pk),
    ],
)
def test_foreign_ids_in_filters_are_rejected(
    route_name, param, value, world_a, world_b, caller_b
):
    url = reverse(route_name)
    missing = MISSING["slug"] if param == "tenant" else MISSING["pk"]

    response = caller_b.get(url, {param: value(world_a)})
    reference = caller_b.get(url, {param: missing})

    assert response.status_code == 400
    assert response.status_code == reference.status_code
    assert list(response.json()) == [param]
    assert response.json()[param][0].endswith("not found.")
    assert response.json()[param][0].replace(str(value(world_a)), "X") == (
        reference.json()[param][0].replace(str(missing), "X")
    )


@pytest.mark.parametrize(
    "route_name", ["tenant-list", "environment-list", "registry-list"]
)
def test_lists_leave_out_other_tenants(route_name, world_a, world_b, caller_b):
    response = caller_b.get(reverse(route_name))

    rows = response.json()["results"]
    assert rows
    assert world_a.tenant.slug not in response.content.decode()
    assert all(
        row.get("environment", world_b.environment.pk) != world_a.environment.pk
        for row in rows
    )


@pytest.mark.parametrize(
    "path", ["/api/v1/registries/", "/api/v1/image-settings/", "/api/v1/environments/"]
)
def test_browsable_forms_offer_own_tenant_only(path, world_a, world_b):
    """The browsable API's create forms list only the caller's choices."""
    client = client_for(world_b.admin)

    response = client.get(path, HTTP_ACCEPT="text/html")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<form" in html
    # Options show environments as "tenant-b/staging", tenants by name.
    assert "tenant-b" in html or "Tenant B" in html
    assert "tenant-a" not in html
    assert "Tenant A" not in html
