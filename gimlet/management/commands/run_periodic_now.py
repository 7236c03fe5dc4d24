"""Enqueue the periodic jobs now instead of at beat's first interval."""

from django.core.management.base import BaseCommand

from registries.tasks import run_sweep, send_expiry_alerts


class Command(BaseCommand):
    help = (
        "Enqueue a sweep of every credential and an expiry-alert run for the "
        "workers, without waiting for beat's first interval."
    )

    def handle(self, *args, **options):
        run_sweep.delay()
        send_expiry_alerts.apply_async(countdown=15)
        self.stdout.write("Enqueued a sweep now and an alert run in 15 seconds.")
