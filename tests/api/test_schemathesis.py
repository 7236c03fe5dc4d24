"""Property-based run of the whole API against its own OpenAPI schema.

Schemathesis generates requests from the schema that /api/v1/schema/
serves and sends them to a live test server, authenticated as the admin
of a seeded tenant. No response may be a server error or disagree with
the schema.
"""

import json

import pytest
import schemathesis
from django.test import Client, override_settings
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import make_tenant_world

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per operation; about 30 operations, so a few thousand requests.
EXAMPLES = 40


@pytest.fixture
def seeded(transactional_db, monkeypatch):
    world = make_tenant_world("a")
    make_tenant_world("b")
    # A check would call the registry's real host: record it instead.
    monkeypatch.setattr(
        "registries.api.views.registry_check", lambda **kwargs: object()
    )
    monkeypatch.setattr("registries.tasks.check_registry.delay", lambda *args: None)
    return world


@pytest.fixture
def auth_headers(seeded):
    token, _ = Token.objects.get_or_create(user=seeded.admin)
    return {"Authorization": f"Token {token.key}"}


def served_schema():
    """Fetch the schema the way a client does, without a database.

    It is loaded when pytest collects this module, because schemathesis
    4.32's lazy loader (schemathesis.pytest.from_fixture) fails on pytest 9:
    it sets a private attribute that pytest 9 no longer has.
    """
    # Collection runs before pytest-django allows the test client's host.
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        response = Client().get(
            "/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
        )
    assert response.status_code == 200
    return json.loads(response.content)


schema = schemathesis.openapi.from_dict(served_schema())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_api_conforms_to_schema(case, live_server, auth_headers):
    case.call_and_validate(
        base_url=live_server.url, headers=auth_headers, checks=CHECKS
    )
