import os

import pytest
from django_scopes import scopes_disabled


@pytest.fixture(autouse=True)
def _unscoped():
    """Let test code query freely; requests still enter their own scope.

    Tests of the scope itself enter `django_scopes.scope(...)` explicitly.
    """
    with scopes_disabled():
        yield


def require_server(name, available):
    """Skip a test whose server is missing, but fail under CI."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required in CI but is not available")
    pytest.skip(f"{name} is not available")
