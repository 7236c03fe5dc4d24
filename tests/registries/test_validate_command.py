"""The validate_registries management command."""

import io
import logging

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError

from registries.models import Check, Kind, Registry, Status
from tests.factories import EnvironmentFactory, RegistryFactory

pytestmark = pytest.mark.django_db


class TerminalStream(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def mocked(settings):
    settings.GIMLET_GITHUB_API_URL = "https://api.github.test"
    settings.GIMLET_GHCR_CHECK = False
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(
            "https://api.github.test/user",
            json={"login": "octocat0"},
            headers={"X-OAuth-Scopes": "repo, write:packages"},
        )
        mock.get(
            "https://auth.docker.io/token",
            status=401,
            json={"details": "incorrect username or password"},
        )
        yield mock


def run(*args, stderr=None):
    stdout = io.StringIO()
    stderr = stderr if stderr is not None else io.StringIO()
    call_command("validate_registries", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def two_tenants():
    first = EnvironmentFactory(tenant__slug="acme")
    second = EnvironmentFactory(tenant__slug="globex")
    return {
        "ghcr": RegistryFactory(environment=first, ghcr=True, login="octocat0"),
        "dockerhub": RegistryFactory(environment=first, dockerhub=True),
        "builtin": RegistryFactory(environment=second),
    }


def test_sync_checks_all_and_summarises(mocked, two_tenants):
    output, _ = run("--sync")

    assert "Checked 3 credentials." in output
    assert "Valid: 1" in output
    assert "Invalid: 1" in output
    assert "Unchecked: 1" in output
    assert Check.objects.count() == 3


def test_tenant_filter(mocked, two_tenants):
    output, _ = run("--sync", "--tenant", "globex")

    assert "Checked 1 credentials." in output
    assert list(Check.objects.values_list("registry_id", flat=True)) == [
        two_tenants["builtin"].pk
    ]


def test_kind_filter(mocked, two_tenants):
    run("--sync", "--kind", Kind.GHCR, "--kind", Kind.DOCKERHUB)

    checked = set(Check.objects.values_list("registry__kind", flat=True))
    assert checked == {Kind.GHCR, Kind.DOCKERHUB}


def test_status_filter(mocked, two_tenants):
    Registry.objects.filter(pk=two_tenants["ghcr"].pk).update(status=Status.INVALID)

    output, _ = run("--sync", "--status", Status.INVALID)

    assert "Checked 1 credentials." in output
    assert Check.objects.get().registry_id == two_tenants["ghcr"].pk


def test_unknown_tenant_is_an_error(two_tenants):
    with pytest.raises(CommandError, match="No tenant with slug nope"):
        run("--sync", "--tenant", "nope")


def test_without_sync_enqueues_checks(
    two_tenants, monkeypatch, django_capture_on_commit_callbacks
):
    enqueued = []
    monkeypatch.setattr(
        "registries.tasks.check_registry.delay",
        lambda registry_id, trigger: enqueued.append((registry_id, trigger)),
    )

    with django_capture_on_commit_callbacks(execute=True):
        output, _ = run()

    assert "Enqueued 3 checks." in output
    assert sorted(enqueued) == sorted(
        (registry.pk, "manual") for registry in two_tenants.values()
    )
    assert Check.objects.count() == 0


def test_progress_bar_shows_on_terminal(mocked, two_tenants):
    _, errors = run("--sync", stderr=TerminalStream())

    assert "Checking" in errors
    assert "3/3" in errors


def test_progress_bar_stays_out_of_pipes_and_logs(mocked, two_tenants, caplog):
    caplog.set_level(logging.DEBUG)

    output, errors = run("--sync")

    assert errors == ""
    assert "3/3" not in output
    assert not any("3/3" in record.getMessage() for record in caplog.records)


def test_demo_data(mocked):
    call_command("seed_demo", stdout=io.StringIO())

    output, _ = run("--sync")

    count = Registry.objects.count()
    assert count > 0
    assert f"Checked {count} credentials." in output
    assert Check.objects.count() == count
