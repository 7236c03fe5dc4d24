"""API paths outside DRF's views still get JSON errors, and writes are not lost."""

import json

import pytest

from environments.models import Environment
from gimlet.api import errors

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def test_unknown_api_path_is_json_404(debug, admin_a):
    response = admin_a.get("/api/v1/nope/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_write_without_slash_is_not_redirected(debug, world_a, admin_a):
    response = admin_a.post(
        "/api/v1/environments",
        {"tenant": world_a.tenant.slug, "name": "noslash"},
        format="json",
    )

    assert response.status_code == 404
    assert response.json() == {
        "detail": "Not found. API paths end with a slash: /api/v1/environments/"
    }
    assert not Environment.objects.filter(name="noslash").exists()


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_detail_write_without_slash_is_not_found(method, debug, world_a, admin_a):
    path = f"/api/v1/environments/{world_a.environment.pk}"

    response = getattr(admin_a, method)(path, {"name": "renamed"}, format="json")

    assert response.status_code == 404
    assert response.json()["detail"].endswith(f"{path}/")


def test_read_without_slash_is_redirected_with_its_query(debug, admin_a):
    response = admin_a.get("/api/v1/registries", {"kind": "ghcr"})

    assert response.status_code == 301
    assert response["Location"] == "/api/v1/registries/?kind=ghcr"


def test_unknown_host_is_json_400(settings, admin_a):
    # With DEBUG on, Django shows its technical page for this, by design.
    settings.DEBUG = False

    response = admin_a.get("/api/v1/registries/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request."}


def test_server_error_outside_views_is_json(rf):
    response = errors.server_error(rf.get("/api/v1/registries/"))

    assert response.status_code == 500
    assert json.loads(response.content) == {
        "detail": "Server error. The server log has the details."
    }


def test_admin_errors_stay_html(rf):
    response = errors.server_error(rf.get("/admin/"))

    assert response["Content-Type"].startswith("text/html")
