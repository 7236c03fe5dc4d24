"""Check stored registry credentials from the command line."""

import sys
from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled
from tqdm import tqdm

from gimlet.models import Tenant
from registries.checking import registry_check
from registries.models import Kind, Registry, Status, Trigger
from registries.services import registry_schedule_check

SKIPPED = "skipped"


class Command(BaseCommand):
    help = (
        "Check registry credentials: enqueue one check task per credential, "
        "or with --sync check them here, one after another, and print a "
        "summary by status."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--tenant",
            action="append",
            metavar="SLUG",
            help="Only this tenant's credentials; repeat for several tenants.",
        )
        parser.add_argument(
            "--kind",
            action="append",
            choices=Kind.values,
            help="Only credentials of this registry kind; may be repeated.",
        )
        parser.add_argument(
            "--status",
            action="append",
            choices=Status.values,
            help="Only credentials whose last result is this status; may be repeated.",
        )
        parser.add_argument(
            "--sync",
            action="store_true",
            help="Check in this process instead of enqueuing tasks. Shows a "
            "progress bar when standard error is a terminal.",
        )

    def handle(self, *args, tenant, kind, status, sync, verbosity, **options):
        self.verbosity = verbosity
        # Management commands run outside any request, so they enter the
        # scope they need: every tenant, narrowed by --tenant below.
        with scopes_disabled():
            registry_ids = self.selected_ids(tenant, kind, status)
            if not sync:
                self.enqueue(registry_ids)
                return
            counts = self.check_all(registry_ids)
        self.print_summary(counts)

    def selected_ids(self, slugs, kinds, statuses):
        registries = Registry.objects.without_secrets()
        if slugs:
            found = set(
                Tenant.objects.filter(slug__in=slugs).values_list("slug", flat=True)
            )
            missing = sorted(set(slugs) - found)
            if missing:
                raise CommandError(f"No tenant with slug {', '.join(missing)}.")
            registries = registries.filter(environment__tenant__slug__in=slugs)
        if kinds:
            registries = registries.filter(kind__in=kinds)
        if statuses:
            registries = registries.filter(status__in=statuses)
        return list(registries.order_by("pk").values_list("pk", flat=True))

    def enqueue(self, registry_ids):
        for registry_id in registry_ids:
            registry_schedule_check(registry_id=registry_id, trigger=Trigger.MANUAL)
        self.stdout.write(f"Enqueued {len(registry_ids)} checks.")

    def check_all(self, registry_ids):
        counts = Counter()
        stream = getattr(self.stderr, "_out", sys.stderr)
        progress = tqdm(
            registry_ids,
            desc="Checking",
            unit="credential",
            file=stream,
            disable=not stream.isatty(),
        )
        for registry_id in progress:
            check = registry_check(registry_id=registry_id, trigger=Trigger.MANUAL)
            counts[check.status if check else SKIPPED] += 1
            if self.verbosity >= 2:
                progress.write(
                    f"Registry {registry_id}: {check.status if check else SKIPPED}",
                    file=self.stdout._out,
                )
        progress.close()
        return counts

    def print_summary(self, counts):
        total = sum(counts.values())
        self.stdout.write(f"Checked {total} credentials.")
        labels = dict(Status.choices)
        labels[SKIPPED] = "Skipped (already being checked, or changed meanwhile)"
        for status, label in labels.items():
            if counts[status]:
                self.stdout.write(f"  {label}: {counts[status]}")
