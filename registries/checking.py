"""Checking one stored credential against its registry."""

from registries.models import Registry


def registry_check(*, registry_id, trigger):
    """Check the registry's credential and store the result."""
    registry = Registry.objects.get(pk=registry_id)
    raise NotImplementedError(f"checks of {registry.kind} registries")
