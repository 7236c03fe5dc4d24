import pytest
from django_scopes import ScopeError, scope

from environments.models import Environment, ImageSettings
from gimlet.models import AuditEvent, Membership
from registries.models import Alert, Check, Registry
from tests.factories import EnvironmentFactory, RegistryFactory

TENANT_OWNED = [
    Environment,
    ImageSettings,
    Registry,
    Check,
    Alert,
    AuditEvent,
    Membership,
]

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", TENANT_OWNED, ids=lambda model: model.__name__)
def test_unscoped_query_raises(model):
    with scope():
        with pytest.raises(ScopeError):
            list(model.objects.all())


@pytest.mark.parametrize("model", TENANT_OWNED, ids=lambda model: model.__name__)
def test_unscoped_filter_raises(model):
    with scope():
        with pytest.raises(ScopeError):
            model.objects.filter(pk=1).exists()


def test_scope_limits_rows_to_its_tenants():
    mine = RegistryFactory()
    RegistryFactory()

    with scope(tenant=[mine.environment.tenant_id]):
        visible = list(Registry.objects.values_list("pk", flat=True))

    assert visible == [mine.pk]


def test_empty_scope_returns_nothing():
    EnvironmentFactory()

    with scope(tenant=[]):
        assert Environment.objects.count() == 0
