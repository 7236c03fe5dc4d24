"""A full dump of the tables the API can change, to prove it changed none."""

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from environments.models import Environment, ImageSettings
from gimlet.models import AuditEvent, Membership, Tenant
from registries.models import Alert, Check, Registry

MODELS = [
    get_user_model(),
    Token,
    Tenant,
    Membership,
    AuditEvent,
    Environment,
    ImageSettings,
    Registry,
    Check,
    Alert,
]


def database_snapshot():
    return {
        model._meta.label: list(model._base_manager.order_by("pk").values())
        for model in MODELS
    }
