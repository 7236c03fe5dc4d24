from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from gimlet.models import Role
from registries.models import Alert
from tests.factories import MembershipFactory, RegistryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def expiring():
    registry = RegistryFactory(
        ghcr=True, login="octocat", expires_at=timezone.now() + timedelta(days=5)
    )
    MembershipFactory(
        tenant=registry.environment.tenant,
        role=Role.ADMIN,
        user__email="admin@tenant.test",
    )
    return registry


def run(*args):
    out = StringIO()
    call_command("send_expiry_alerts", *args, stdout=out)
    return out.getvalue()


def test_dry_run_lists_and_writes_nothing(expiring):
    output = run("--dry-run")

    slug = expiring.environment.tenant.slug
    assert f"{slug}: 1 alerts to admin@tenant.test" in output
    assert "token in 5 days, threshold 7 days" in output
    assert not Alert.objects.exists()
    assert mail.outbox == []


def test_dry_run_preview_writes_both_bodies(expiring, tmp_path):
    run("--dry-run", "--preview", str(tmp_path))

    slug = expiring.environment.tenant.slug
    text = (tmp_path / f"{slug}.txt").read_text()
    html = (tmp_path / f"{slug}.html").read_text()
    assert text.startswith("Subject: [Gimlet] ")
    assert "expires in 5 days" in text
    assert "<strong>5 days</strong>" in html
    assert expiring.token not in text + html


def test_run_sends_once(expiring):
    first = run()
    second = run()

    assert "1 new alerts; 1 digests sent, 0 failed." in first
    assert "0 new alerts; 0 digests sent, 0 failed." in second
    assert len(mail.outbox) == 1


def test_nothing_due(db):
    assert run("--dry-run").strip() == "Nothing to send."
