"""RegistrySerializer's fast read path returns what DRF's fields would."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework import serializers

from registries.api.serializers import RegistrySerializer
from registries.models import Registry, Status
from tests.factories import RegistryFactory, certificate_pem, self_signed_ca

pytestmark = pytest.mark.django_db


def generic(instance):
    serializer = RegistrySerializer()
    return serializers.ModelSerializer.to_representation(serializer, instance)


@pytest.fixture
def registries():
    soon = datetime(2027, 1, 5, 10, 0, 0, 123456, tzinfo=UTC)
    made = [
        RegistryFactory(),
        RegistryFactory(ghcr=True, expires_at=soon),
        RegistryFactory(dockerhub=True),
        RegistryFactory(custom=True, certificate=certificate_pem(self_signed_ca()[0])),
    ]
    Registry.objects.filter(pk=made[1].pk).update(
        status=Status.VALID,
        status_message="Valid; expires soon.",
        scopes=["repo", "write:packages"],
        checked_at=soon - timedelta(days=3),
        last_valid_at=soon - timedelta(days=3),
    )
    return list(Registry.objects.without_secrets().order_by("pk"))


def test_fast_path_matches_generic_fields(registries):
    for registry in registries:
        fast = RegistrySerializer(registry).data

        assert dict(fast) == dict(generic(registry)), registry.kind


def test_fast_path_matches_for_lists(registries):
    fast = RegistrySerializer(registries, many=True).data

    assert [dict(row) for row in fast] == [generic(r) for r in registries]


def test_fast_path_leaves_out_secrets(registries):
    row = RegistrySerializer(registries[3]).data

    assert "token" not in row
    assert "certificate" not in row
    assert row["certificate_subject"]
