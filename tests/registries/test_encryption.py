"""Encryption at rest of registry tokens and certificates.

FIELD_ENCRYPTION_KEY lists Fernet keys: the first encrypts and every key
decrypts. These tests read the database rows directly, so they see what a
copy of the database would contain.
"""

import hashlib
import re

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Cast, Concat
from django.test import override_settings

from registries.fields import SecretDecryptionError
from registries.models import Registry
from registries.secrets import secret_fingerprint
from tests.factories import RegistryFactory, certificate_pem, self_signed_ca

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
UNRELATED_KEY = Fernet.generate_key().decode()

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def ca_pem():
    certificate, _ = self_signed_ca("Gimlet Encryption Test CA")
    return certificate_pem(certificate)


@pytest.fixture
def custom_registry(ca_pem):
    return RegistryFactory(custom=True, certificate=ca_pem)


def raw_row(registry):
    """Return the registry's database row as {column: value}, as stored."""
    table = connection.ops.quote_name(Registry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [registry.pk])
        columns = [column[0] for column in cursor.description]
        return dict(zip(columns, cursor.fetchone(), strict=True))


def pem_body(pem):
    """Return the base64 text of a PEM certificate without line breaks."""
    lines = pem.strip().splitlines()
    return "".join(lines[1:-1])


def current_key():
    return settings.FIELD_ENCRYPTION_KEY[0]


# What the database row contains.


@pytest.mark.parametrize("kind", ["ghcr", "dockerhub", "custom"])
def test_raw_row_contains_no_token(kind):
    registry = RegistryFactory(**{kind: True})

    row = raw_row(registry)
    row_text = " ".join(str(value) for value in row.values())

    assert registry.token not in row_text
    assert registry.token[-12:] not in row_text


def test_raw_row_contains_no_certificate(custom_registry, ca_pem):
    row = raw_row(custom_registry)
    row_text = " ".join(str(value) for value in row.values())
    body = pem_body(ca_pem)

    assert "BEGIN CERTIFICATE" not in row_text
    assert body not in row_text
    assert body[:64] not in row_text
    assert body[-64:] not in row_text


def test_raw_columns_use_current_key(custom_registry, ca_pem):
    row = raw_row(custom_registry)
    fernet = Fernet(current_key())

    assert fernet.decrypt(row["token"].encode()).decode() == custom_registry.token
    assert fernet.decrypt(row["certificate"].encode()).decode() == ca_pem


def test_raw_columns_differ_for_same_token():
    first = RegistryFactory(custom=True, token="same-token-in-both-rows")
    second = RegistryFactory(custom=True, token="same-token-in-both-rows")

    assert raw_row(first)["token"] != raw_row(second)["token"]


def test_missing_secrets_stored_as_null():
    registry = RegistryFactory()

    row = raw_row(registry)

    assert row["token"] is None
    assert row["certificate"] is None


def test_saved_secrets_read_back(custom_registry, ca_pem):
    registry = Registry.objects.get(pk=custom_registry.pk)

    assert registry.token == custom_registry.token
    assert registry.certificate == ca_pem


# Reading with a key list that lacks the row's key.


def test_missing_key_raises_on_load(custom_registry):
    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        with pytest.raises(SecretDecryptionError) as caught:
            Registry.objects.get(pk=custom_registry.pk)

    message = str(caught.value)
    assert "Cannot decrypt registries.Registry.token" in message
    assert "FIELD_ENCRYPTION_KEY" in message
    assert "Add the key that encrypted it" in message


def test_missing_key_error_contains_no_secret(custom_registry):
    stored = raw_row(custom_registry)["token"]

    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        with pytest.raises(SecretDecryptionError) as caught:
            Registry.objects.get(pk=custom_registry.pk)

    message = str(caught.value)
    assert stored not in message
    assert custom_registry.token not in message


@pytest.mark.parametrize("column", ["token", "certificate"])
def test_missing_key_raises_on_values_list(custom_registry, column):
    queryset = Registry.objects.filter(pk=custom_registry.pk)

    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        with pytest.raises(SecretDecryptionError, match=f"Registry.{column}"):
            list(queryset.values_list(column, flat=True))


def test_missing_key_raises_on_deferred_access(custom_registry):
    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        registry = Registry.objects.without_secrets().get(pk=custom_registry.pk)

        with pytest.raises(SecretDecryptionError):
            registry.token  # noqa: B018


def test_missing_key_blocks_full_clean(custom_registry):
    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        registry = Registry.objects.without_secrets().get(pk=custom_registry.pk)

        with pytest.raises(SecretDecryptionError):
            registry.full_clean()


def test_missing_key_leaves_stored_ciphertext_alone(custom_registry):
    before = raw_row(custom_registry)

    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        registry = Registry.objects.without_secrets().get(pk=custom_registry.pk)
        registry.login = "robot-renamed"
        registry.save()

    after = raw_row(custom_registry)
    assert after["login"] == "robot-renamed"
    assert after["token"] == before["token"]
    assert after["certificate"] == before["certificate"]
    assert Registry.objects.get(pk=custom_registry.pk).token == custom_registry.token


def test_listing_without_secrets_needs_no_key(custom_registry):
    with override_settings(FIELD_ENCRYPTION_KEY=[UNRELATED_KEY]):
        names = list(Registry.objects.without_secrets().values_list("name", flat=True))

    assert names == [custom_registry.name]


# Key rotation: a new key goes first, the old one stays listed.


@pytest.mark.parametrize(
    "rotated",
    [
        [NEW_KEY, OLD_KEY],
        f"{NEW_KEY},{OLD_KEY}",
        f" {NEW_KEY} , {OLD_KEY} ",
    ],
    ids=["list", "comma-separated", "padded"],
)
def test_old_key_row_reads_under_new_and_old(ca_pem, rotated):
    with override_settings(FIELD_ENCRYPTION_KEY=[OLD_KEY]):
        stored = RegistryFactory(custom=True, certificate=ca_pem)

    with override_settings(FIELD_ENCRYPTION_KEY=rotated):
        registry = Registry.objects.get(pk=stored.pk)

    assert registry.token == stored.token
    assert registry.certificate == ca_pem


def test_old_key_row_needs_old_key(ca_pem):
    with override_settings(FIELD_ENCRYPTION_KEY=[OLD_KEY]):
        stored = RegistryFactory(custom=True, certificate=ca_pem)

    with override_settings(FIELD_ENCRYPTION_KEY=[NEW_KEY]):
        with pytest.raises(SecretDecryptionError):
            Registry.objects.get(pk=stored.pk)


def test_rotated_save_uses_new_key(ca_pem):
    with override_settings(FIELD_ENCRYPTION_KEY=[OLD_KEY]):
        stored = RegistryFactory(custom=True, certificate=ca_pem)

    with override_settings(FIELD_ENCRYPTION_KEY=[NEW_KEY, OLD_KEY]):
        Registry.objects.get(pk=stored.pk).save()

    row = raw_row(stored)
    assert Fernet(NEW_KEY).decrypt(row["token"].encode()).decode() == stored.token
    assert Fernet(NEW_KEY).decrypt(row["certificate"].encode()).decode() == ca_pem
    with override_settings(FIELD_ENCRYPTION_KEY=[NEW_KEY]):
        assert Registry.objects.get(pk=stored.pk).token == stored.token


def test_fingerprint_unchanged_by_key_rotation():
    with override_settings(FIELD_ENCRYPTION_KEY=[OLD_KEY]):
        stored = RegistryFactory(custom=True)

    with override_settings(FIELD_ENCRYPTION_KEY=[NEW_KEY, OLD_KEY]):
        registry = Registry.objects.get(pk=stored.pk)
        registry.save()

    assert raw_row(stored)["token_fingerprint"] == stored.token_fingerprint


# Ciphertext is never stored as if it were the plaintext.


def test_ciphertext_as_token_rejected_on_save(custom_registry):
    before = raw_row(custom_registry)
    registry = Registry.objects.get(pk=custom_registry.pk)
    registry.token = before["token"]

    with pytest.raises(SecretDecryptionError, match="ciphertext"), transaction.atomic():
        registry.save()

    assert raw_row(custom_registry)["token"] == before["token"]


@pytest.mark.parametrize("column", ["token", "certificate"])
def test_ciphertext_rejected_on_queryset_update(custom_registry, column):
    before = raw_row(custom_registry)[column]
    queryset = Registry.objects.filter(pk=custom_registry.pk)

    with pytest.raises(SecretDecryptionError, match="ciphertext"), transaction.atomic():
        queryset.update(**{column: before})

    assert raw_row(custom_registry)[column] == before


def test_ciphertext_under_old_key_rejected_on_save():
    with override_settings(FIELD_ENCRYPTION_KEY=[OLD_KEY]):
        stored = RegistryFactory(custom=True)
    old_ciphertext = raw_row(stored)["token"]

    with override_settings(FIELD_ENCRYPTION_KEY=[NEW_KEY, OLD_KEY]):
        registry = Registry.objects.get(pk=stored.pk)
        registry.token = old_ciphertext

        with pytest.raises(SecretDecryptionError, match="ciphertext"):
            with transaction.atomic():
                registry.save()

    assert raw_row(stored)["token"] == old_ciphertext


@pytest.mark.parametrize("method", ["update", "bulk_update"])
def test_bulk_writes_encrypt_token(custom_registry, method):
    new_token = "rotated-robot-token-42"

    if method == "update":
        Registry.objects.filter(pk=custom_registry.pk).update(token=new_token)
    else:
        custom_registry.token = new_token
        Registry.objects.bulk_update([custom_registry], ["token"])

    stored = raw_row(custom_registry)["token"]
    assert new_token not in stored
    assert Fernet(current_key()).decrypt(stored.encode()).decode() == new_token


def test_bulk_update_encrypts_each_row():
    registries = RegistryFactory.create_batch(3, custom=True)
    for number, registry in enumerate(registries):
        registry.token = f"bulk-token-{number}"

    Registry.objects.bulk_update(registries, ["token"])

    for number, registry in enumerate(registries):
        stored = raw_row(registry)["token"]
        assert Fernet(current_key()).decrypt(stored.encode()).decode() == (
            f"bulk-token-{number}"
        )


@pytest.mark.parametrize(
    "expression",
    [
        F("login"),
        Value("plain-robot-token"),
        Value("plain-robot-token", output_field=TextField()),
        Concat(F("login"), Value("-x")),
        Cast(F("login"), output_field=Registry._meta.get_field("token")),
    ],
    ids=["column", "untyped-value", "text-value", "function", "cast-column"],
)
def test_expression_rejected_on_update(custom_registry, expression):
    before = raw_row(custom_registry)["token"]
    queryset = Registry.objects.filter(pk=custom_registry.pk)

    with pytest.raises(TypeError, match="stored unencrypted") as caught:
        with transaction.atomic():
            queryset.update(token=expression)

    assert "plain-robot-token" not in str(caught.value)
    assert raw_row(custom_registry)["token"] == before


# The keyed token fingerprint.


def test_fingerprint_is_hex_sha256_length():
    registry = RegistryFactory(custom=True)

    assert re.fullmatch(r"[0-9a-f]{64}", registry.token_fingerprint)


def test_fingerprint_is_not_plain_sha256():
    registry = RegistryFactory(custom=True)

    plain = hashlib.sha256(registry.token.encode()).hexdigest()
    assert registry.token_fingerprint != plain


def test_fingerprint_depends_on_secret_key():
    token = "robot-token-for-fingerprints"
    fingerprint = secret_fingerprint(token)

    with override_settings(SECRET_KEY="another-secret-key-" + "y" * 50):
        other = secret_fingerprint(token)

    assert other != fingerprint


def test_fingerprint_stable_for_same_token():
    first = RegistryFactory(custom=True, token="robot-token-for-fingerprints")
    second = RegistryFactory(custom=True, token="robot-token-for-fingerprints")

    assert first.token_fingerprint == second.token_fingerprint
    assert first.token_fingerprint == secret_fingerprint("robot-token-for-fingerprints")


def test_fingerprint_stable_across_saves():
    registry = RegistryFactory(custom=True)
    fingerprint = registry.token_fingerprint

    reloaded = Registry.objects.get(pk=registry.pk)
    reloaded.save()

    assert raw_row(registry)["token_fingerprint"] == fingerprint


def test_fingerprint_differs_for_other_token():
    first = RegistryFactory(custom=True, token="robot-token-one")
    second = RegistryFactory(custom=True, token="robot-token-two")

    assert first.token_fingerprint != second.token_fingerprint


# Key configuration errors.


@pytest.mark.parametrize("keys", [[], "", " , "], ids=["empty-list", "empty", "commas"])
def test_empty_key_list_rejected(keys):
    with override_settings(FIELD_ENCRYPTION_KEY=keys):
        with pytest.raises(ImproperlyConfigured, match="lists no key"):
            RegistryFactory(custom=True)


def test_malformed_key_rejected_without_echo():
    with override_settings(FIELD_ENCRYPTION_KEY=["not-a-fernet-key"]):
        with pytest.raises(ImproperlyConfigured) as caught:
            RegistryFactory(custom=True)

    assert "not a Fernet key" in str(caught.value)
    assert "not-a-fernet-key" not in str(caught.value)
