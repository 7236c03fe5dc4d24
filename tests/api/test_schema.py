"""The OpenAPI schema and the Swagger UI."""

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command

pytestmark = pytest.mark.django_db

# Every path of the API contract.
CONTRACT_PATHS = {
    "/api/v1/auth/token/",
    "/api/v1/tenants/",
    "/api/v1/tenants/{slug}/",
    "/api/v1/tenants/{tenant_slug}/members/",
    "/api/v1/tenants/{tenant_slug}/members/{username}/",
    "/api/v1/environments/",
    "/api/v1/environments/{id}/",
    "/api/v1/environments/{id}/pull-secret/",
    "/api/v1/registries/",
    "/api/v1/registries/{id}/",
    "/api/v1/registries/{id}/validate/",
    "/api/v1/registries/{id}/checks/",
    "/api/v1/image-settings/",
    "/api/v1/image-settings/{id}/",
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def component(schema, name):
    return schema["components"]["schemas"][name]


def test_schema_has_contract_paths(schema):
    assert set(schema["paths"]) == CONTRACT_PATHS


def test_secrets_are_write_only(schema):
    request = component(schema, "RegistryCreateRequest")["properties"]
    response = component(schema, "Registry")["properties"]

    assert request["token"]["writeOnly"] is True
    assert request["certificate"]["writeOnly"] is True
    assert "token" not in response
    assert "certificate" not in response


def test_result_fields_are_read_only(schema):
    request = component(schema, "PatchedRegistryRequest")["properties"]
    response = component(schema, "Registry")["properties"]

    for field in ("token_hint", "status", "checked_at", "certificate_fingerprint"):
        assert field not in request
        assert response[field]["readOnly"] is True
    assert "expires_at" in request
    assert "kind" not in request
    assert "environment" not in request


def test_registry_create_has_example_per_kind(schema):
    operation = schema["paths"]["/api/v1/registries/"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]

    kinds = {example["value"]["kind"] for example in examples.values()}
    assert kinds == {"builtin", "ghcr", "dockerhub", "custom"}


def test_lists_are_paginated(schema):
    for path in ("/api/v1/registries/", "/api/v1/registries/{id}/checks/"):
        ok = schema["paths"][path]["get"]["responses"]["200"]
        ref = ok["content"]["application/json"]["schema"]["$ref"]

        assert ref.startswith("#/components/schemas/Paginated")


def test_registry_filters_documented(schema):
    parameters = schema["paths"]["/api/v1/registries/"]["get"]["parameters"]

    names = {parameter["name"] for parameter in parameters}
    assert {"environment", "kind", "status", "expiring", "page"} <= names


def test_errors_documented(schema):
    delete = schema["paths"]["/api/v1/registries/{id}/"]["delete"]["responses"]
    export = schema["paths"]["/api/v1/environments/{id}/pull-secret/"]["get"]

    assert {"204", "400", "401", "403", "404", "409"} <= set(delete)
    assert "429" in export["responses"]


def test_schema_endpoint(client):
    response = client.get("/api/v1/schema/")

    assert response.status_code == 200
    assert b"openapi: 3" in response.content


def test_swagger_ui_uses_sidecar(client):
    response = client.get("/api/v1/docs/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert not re.search(r"(src|href)=\"https?://", html)
    assert "cdn" not in html.lower()
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
