"""Celery tasks. They take ids only, never secrets, and call services."""

from celery import shared_task
from django_scopes import scopes_disabled

from registries.checking import registry_check


@shared_task(
    name="registries.check_registry",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=60,
    time_limit=90,
)
def check_registry(registry_id, trigger):
    """Check one registry credential and store the result."""
    with scopes_disabled():
        registry_check(registry_id=registry_id, trigger=trigger)
