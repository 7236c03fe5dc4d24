"""Record the expiry alerts due now and send the digests, or list them."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_scopes import scopes_disabled

from registries.alerts import (
    days_left,
    digest_render,
    expiry_alerts_run,
    planned_digests,
    tenant_recipients,
)
from registries.models import AlertKind


class Command(BaseCommand):
    help = (
        "Record the expiry alerts due now and send one digest email per tenant, "
        "together with any alert whose earlier send failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List the digests that would be sent; write and send nothing.",
        )
        parser.add_argument(
            "--preview",
            metavar="FOLDER",
            help="With --dry-run, also write each digest as it would be sent "
            "(<tenant>.txt and <tenant>.html) into FOLDER.",
        )

    @scopes_disabled()
    def handle(self, *args, dry_run, preview, **options):
        now = timezone.now()
        if preview and not dry_run:
            raise CommandError("--preview needs --dry-run.")
        if dry_run:
            self.list_planned(now, preview)
            return
        created, sent, failed = expiry_alerts_run(now)
        self.stdout.write(
            f"{created} new alerts; {sent} digests sent, {failed} failed."
        )
        if failed:
            self.stderr.write(
                "Failed digests stay pending and are sent on the next run."
            )

    def list_planned(self, now, preview):
        digests = planned_digests(now)
        if not digests:
            self.stdout.write("Nothing to send.")
            return
        for tenant, alerts in digests.items():
            recipients = ", ".join(tenant_recipients(tenant)) or "no recipients"
            self.stdout.write(f"{tenant.slug}: {len(alerts)} alerts to {recipients}")
            for alert in alerts:
                self.stdout.write(f"  {self.describe(alert, now)}")
            if preview:
                self.write_preview(Path(preview), tenant, alerts, now)

    def write_preview(self, folder, tenant, alerts, now):
        folder.mkdir(parents=True, exist_ok=True)
        subject, text, html = digest_render(tenant, alerts, now)
        (folder / f"{tenant.slug}.txt").write_text(f"Subject: {subject}\n\n{text}")
        (folder / f"{tenant.slug}.html").write_text(html)
        self.stdout.write(f"  Wrote {folder / tenant.slug}.txt and .html")

    def describe(self, alert, now):
        registry = alert.registry
        where = f"{registry.environment.name}/{registry.name} ({registry.kind})"
        if alert.kind == AlertKind.STATUS_CHANGE:
            return f"{where}: now {registry.status}"
        expires_at = (
            registry.certificate_expires_at
            if alert.kind == AlertKind.CERTIFICATE_EXPIRY
            else registry.expires_at
        )
        what = "certificate" if alert.kind == AlertKind.CERTIFICATE_EXPIRY else "token"
        left = days_left(expires_at, now)
        when = f"in {left} days" if left > 0 else "expired"
        return f"{where}: {what} {when}, threshold {alert.threshold_days} days"
