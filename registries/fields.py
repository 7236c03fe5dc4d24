"""Encrypted secret fields that fail loudly.

django-encrypted-model-fields returns the stored ciphertext unchanged when
no configured key decrypts it (0.6.5, `EncryptedMixin.to_python`), so a
missing key would show ciphertext as if it were the token and save it
encrypted a second time. The field here raises instead, and reads the key
list from settings at call time so that key rotation and tests see it.
"""

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models
from django.db.models import Case, ExpressionWrapper, F, TextField, Value
from django.db.models.functions import Cast
from django.dispatch import receiver
from django.views.decorators.debug import sensitive_variables
from encrypted_model_fields.fields import EncryptedTextField


class SecretDecryptionError(Exception):
    """A stored secret that none of the configured keys can decrypt."""


def configured_fernets():
    """Return a Fernet per key in FIELD_ENCRYPTION_KEY, the current one first."""
    keys = settings.FIELD_ENCRYPTION_KEY
    if isinstance(keys, str):
        keys = keys.split(",")
    keys = [key.strip() for key in keys if key.strip()]
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY lists no key.")
    try:
        return [Fernet(key) for key in keys]
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY contains a value that is not a Fernet key "
            f"(32 url-safe base64-encoded bytes): {error}"
        ) from None


@functools.cache
def get_crypter():
    return MultiFernet(configured_fernets())


@receiver(setting_changed)
def reset_crypter(*, setting, **kwargs):
    if setting == "FIELD_ENCRYPTION_KEY":
        get_crypter.cache_clear()


def encrypt(plaintext):
    return get_crypter().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext):
    """Decrypt with any configured key; raise InvalidToken if none fits."""
    return get_crypter().decrypt(ciphertext.encode()).decode()


def is_ciphertext(value):
    try:
        decrypt(value)
    except (InvalidToken, ValueError):
        return False
    return True


class EncryptedSecretField(EncryptedTextField):
    """A Fernet-encrypted text column that raises when it cannot decrypt."""

    @sensitive_variables("value")
    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        try:
            return decrypt(value)
        except (InvalidToken, ValueError):
            raise SecretDecryptionError(
                f"Cannot decrypt {self.model._meta.label}.{self.name} with the "
                "keys in FIELD_ENCRYPTION_KEY. Add the key that encrypted it "
                "to the list (after the current one) and restart."
            ) from None

    def to_python(self, value):
        # Values in Python are plaintext: never try to decrypt them here, as
        # the parent class does, or a token that happens to be Fernet
        # ciphertext would be replaced silently.
        return models.TextField.to_python(self, value)

    @sensitive_variables("value")
    def get_db_prep_save(self, value, connection):
        value = models.TextField.get_db_prep_save(self, value, connection)
        if value is None:
            return None
        if hasattr(value, "as_sql"):
            self.check_expression(value)
            return value
        if is_ciphertext(value):
            raise SecretDecryptionError(
                f"Refusing to save ciphertext as the plaintext of "
                f"{self.model._meta.label}.{self.name}."
            )
        return encrypt(str(value))

    def check_expression(self, expression):
        """Raise TypeError unless this field encrypts what `expression` writes.

        bulk_update() writes Case(When(..., then=Value(v, output_field=f))),
        wrapped in Cast() on PostgreSQL, and Value.as_sql() passes each such
        value back through this field's get_db_prep_save() (Django 5.2). Any
        other expression, such as F() or a Value typed as another field,
        would write its value unencrypted.
        """
        for term in written_terms(expression):
            if isinstance(term, Value) and (
                term.value is None or term._output_field_or_none is self
            ):
                continue
            # The message names the expression type only: a Value's repr
            # would contain the secret.
            raise TypeError(
                f"Cannot write a {type(term).__name__} expression to the "
                f"encrypted field {self.model._meta.label}.{self.name}, "
                "because it would be stored unencrypted. Assign the plaintext "
                "value instead."
            )


def written_terms(expression):
    """Yield the expressions whose results an UPDATE would store."""
    if isinstance(expression, Cast):
        yield from written_terms(expression.get_source_expressions()[0])
    elif isinstance(expression, Case):
        for when in expression.cases:
            yield from written_terms(when.result)
        yield from written_terms(expression.default)
    else:
        yield expression


def encrypted_models():
    """Return (model, [encrypted fields]) for every concrete, managed model."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = [
            f
            for f in model._meta.concrete_fields
            if isinstance(f, EncryptedSecretField)
        ]
        if fields:
            found.append((model, fields))
    return found


def stored_ciphertext(model, fields):
    """Select pk and the stored ciphertext of `fields`, without decrypting.

    A plain text output field has no from_db_value(), so each value comes
    back as the database stores it, aliased as `stored_<name>`.
    """
    wrapped = {
        f"stored_{f.name}": ExpressionWrapper(F(f.name), output_field=TextField())
        for f in fields
    }
    return (
        model._base_manager.order_by("pk")
        .annotate(**wrapped)
        .values_list("pk", *wrapped)
    )
