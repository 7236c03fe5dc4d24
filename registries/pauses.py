"""Pauses of upstream hosts that returned a rate-limit response.

A pause lives in the shared cache (Redis in production), so no worker on
any machine calls a paused host before the time it named.
"""

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from registries.models import Kind

logger = logging.getLogger(__name__)

PAUSE_KEY = "gimlet:pause:{host}"


def upstream_host(registry):
    """Return the host a check of this registry calls first (None for builtin)."""
    if registry.kind == Kind.GHCR:
        return urlsplit(settings.GIMLET_GITHUB_API_URL).netloc
    if registry.kind == Kind.DOCKERHUB:
        return urlsplit(settings.GIMLET_DOCKERHUB_AUTH_URL).netloc
    if registry.kind == Kind.CUSTOM:
        return urlsplit(registry.url).netloc
    return None


def host_paused_until(host, now=None):
    if not host:
        return None
    until = cache.get(PAUSE_KEY.format(host=host))
    now = now or timezone.now()
    if until is None or until <= now:
        return None
    return until


def host_pause(host, until):
    """Pause calls to `host` until `until`, for every worker."""
    seconds = (until - timezone.now()).total_seconds()
    if host and seconds > 0:
        current = cache.get(PAUSE_KEY.format(host=host))
        if current is None or current < until:
            cache.set(PAUSE_KEY.format(host=host), until, timeout=int(seconds) + 1)
            logger.info("Pausing calls to %s until %s.", host, until.isoformat())
