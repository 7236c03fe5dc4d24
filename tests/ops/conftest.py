"""Fixtures for the operations tests: metrics scrapes and settings."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

METRICS_TOKEN = "metrics-token-for-tests-0123456789abcdef"


@pytest.fixture
def metrics_token(settings):
    settings.GIMLET_METRICS_TOKEN = METRICS_TOKEN
    settings.GIMLET_METRICS_ALLOWED_NETWORKS = []
    return METRICS_TOKEN


@pytest.fixture
def scrape(client, metrics_token):
    """Return a function that scrapes /metrics with the token."""

    def get(**headers):
        response = client.get(
            "/metrics", headers={"Authorization": f"Bearer {metrics_token}"}
        )
        assert response.status_code == 200, response.content
        return response

    return get


def parse_samples(text):
    """Return {(sample name, frozenset of label items): value}."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            samples[key] = sample.value
    return samples


def sample(samples, name, **labels):
    """Return one sample's value; KeyError names what is missing."""
    key = (name, frozenset(labels.items()))
    if key not in samples:
        raise KeyError(f"no sample {name}{labels}")
    return samples[key]
