"""Tasks take ids, never secrets: their signatures and the broker's messages.

Each flow that enqueues work runs without a worker, so every message it
sends stays in Redis, where the test decodes it and inspects its
arguments, headers and raw bytes.
"""

import inspect
import re
from datetime import datetime

import pytest

from gimlet.celery import app as celery_app
from registries.alerts import alerts_send_soon
from registries.models import Kind, Registry
from registries.tasks import run_sweep, send_expiry_alerts
from tests.security import canary
from tests.security.forms import submit
from tests.servers import make_ca

pytestmark = pytest.mark.django_db

# Names a task parameter may have: ids, lists of ids, a trigger name and
# a timestamp.
ID_PARAMETER = re.compile(r"[a-z_]+_(id|ids|number)")
OTHER_PARAMETERS = {"trigger", "started_at"}
TRIGGERS = {"save", "manual", "schedule"}
OUR_TASKS = ("registries.", "gimlet.", "environments.")


def our_tasks():
    celery_app.loader.import_default_modules()
    return {
        name: task
        for name, task in celery_app.tasks.items()
        if name.startswith(OUR_TASKS)
    }


def test_known_tasks_registered():
    names = set(our_tasks())

    assert {
        "registries.check_registry",
        "registries.sweep",
        "registries.check_batch",
        "registries.send_expiry_alerts",
        "registries.send_alerts",
    } <= names


@pytest.mark.parametrize("name", sorted(our_tasks()))
def test_task_takes_ids_only(name):
    parameters = inspect.signature(our_tasks()[name].run).parameters.values()

    for parameter in parameters:
        assert parameter.kind not in {
            parameter.VAR_POSITIONAL,
            parameter.VAR_KEYWORD,
        }, f"{name} accepts *{parameter.name}"
        assert ID_PARAMETER.fullmatch(parameter.name) or (
            parameter.name in OTHER_PARAMETERS
        ), f"{name} takes {parameter.name}, which is not an id"


def is_id_value(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, list):
        return all(
            isinstance(item, int) and not isinstance(item, bool) for item in value
        )
    if not isinstance(value, str):
        return False
    if value in TRIGGERS or re.fullmatch(r"[0-9a-f-]{32,36}", value):
        return True
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def test_flow_messages_carry_ids(
    services, world, api, admin_site, django_capture_on_commit_callbacks
):
    """Saves, a sweep and alert runs leave only ids in the broker."""
    needles = canary.Needles()
    api_token, admin_token = canary.custom_token(), canary.custom_token()
    github = canary.github_token()
    pem = make_ca("Task Message Canary CA").cert_pem
    needles.add_token("API token", api_token, login="robot")
    needles.add_token("admin token", admin_token, login="robot")
    needles.add_token("GitHub token", github, login="octocat")
    needles.add_certificate("certificate", pem)

    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/v1/registries/",
            {
                "environment": world.environment.pk,
                "kind": Kind.CUSTOM,
                "name": "harbor",
                "url": "https://registry.gimlet.test",
                "login": "robot",
                "token": api_token.value,
                "certificate": pem,
            },
            format="json",
        )
        assert created.status_code == 201, created.content
        changed = api.post(
            "/api/v1/registries/",
            {
                "environment": world.environment.pk,
                "kind": Kind.GHCR,
                "login": "octocat",
                "token": canary.github_token().value,
            },
            format="json",
        )
        assert changed.status_code == 201, changed.content
        patched = api.patch(
            f"/api/v1/registries/{changed.json()['id']}/",
            {"token": github.value},
            format="json",
        )
        assert patched.status_code == 200, patched.content
        added = submit(
            admin_site,
            "/admin/registries/registry/add/?kind=custom",
            {
                "environment": str(world.environment.pk),
                "name": "quay",
                "url": "https://quay.gimlet.test",
                "login": "robot",
                "token": admin_token.value,
            },
        )
        assert added.status_code == 302, added.content[:2000]
    run_sweep.apply()
    alerts_send_soon()
    send_expiry_alerts.delay()

    messages = canary.celery_messages()
    tasks = [message["headers"]["task"] for message in messages]
    assert tasks.count("registries.check_registry") == 4
    assert "registries.check_batch" in tasks
    assert "registries.send_alerts" in tasks
    assert "registries.send_expiry_alerts" in tasks
    for message in messages:
        args, kwargs, _embed = message["body"]
        task = message["headers"]["task"]
        assert all(is_id_value(arg) for arg in args), (task, args)
        assert all(is_id_value(value) for value in kwargs.values()), (task, kwargs)
    assert needles.leaks(canary.redis_dump()) == {}
    assert Registry.objects.count() == 3
