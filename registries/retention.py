"""Deleting old check history.

A sweep writes one Check row per credential, so at the default interval of
6 hours a credential gains four rows a day and 100,000 credentials gain
400,000. Rows older than GIMLET_CHECK_RETENTION_DAYS are deleted, except
each credential's latest check, which stays however old it is so that
every credential keeps the record of its last result.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from registries.models import Check

logger = logging.getLogger(__name__)

# Rows per DELETE: few enough that each statement keeps its locks briefly.
BATCH_SIZE = 5000


def checks_prune(*, now=None, batch_size=BATCH_SIZE, max_batches=1000):
    """Delete checks older than the retention period and return how many.

    Works in batches of `batch_size` rows and stops after `max_batches`,
    leaving the rest to the next run, so one run stays within its task's
    time limit however large the backlog.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.GIMLET_CHECK_RETENTION_DAYS)
    latest = (
        Check._base_manager.filter(registry=OuterRef("registry"))
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    expired = (
        Check._base_manager.filter(created_at__lt=cutoff)
        .exclude(pk=Subquery(latest))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    deleted = 0
    for _ in range(max_batches):
        batch = list(expired[:batch_size])
        if not batch:
            break
        count, _ = Check._base_manager.filter(pk__in=batch).delete()
        deleted += count
        if len(batch) < batch_size:
            break
    logger.info(
        "Deleted %d checks older than %d days.",
        deleted,
        settings.GIMLET_CHECK_RETENTION_DAYS,
    )
    return deleted
