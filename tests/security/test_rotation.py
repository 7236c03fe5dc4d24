"""manage.py rotate_encryption_key re-encrypts every secret under the new key.

Rows are written under key 1, then the command runs with "2,1" (the new
key first), and afterwards every row reads under key 2 alone. A row that no
listed key decrypts stops the command before it writes anything.
"""

from io import StringIO
from unittest import mock

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from registries.management.commands.rotate_encryption_key import Command
from registries.models import Registry
from tests.factories import RegistryFactory, certificate_pem, self_signed_ca

KEY_1 = Fernet.generate_key().decode()
KEY_2 = Fernet.generate_key().decode()
UNLISTED_KEY = Fernet.generate_key().decode()
ROTATING = f"{KEY_2},{KEY_1}"

pytestmark = pytest.mark.django_db


def raw_rows():
    """Return {pk: (token, certificate)} as stored, ciphertext and all."""
    table = connection.ops.quote_name(Registry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, token, certificate FROM {table}")  # noqa: S608
        return {pk: (token, certificate) for pk, token, certificate in cursor}


def write_raw_token(pk, ciphertext):
    table = connection.ops.quote_name(Registry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET token = %s WHERE id = %s",  # noqa: S608
            [ciphertext, pk],
        )


def rotate(*args, keys=ROTATING):
    out, err = StringIO(), StringIO()
    with override_settings(FIELD_ENCRYPTION_KEY=keys):
        call_command("rotate_encryption_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def decrypts_with(key, ciphertext):
    Fernet(key).decrypt(ciphertext.encode())
    return True


@pytest.fixture
def pem():
    certificate, _ = self_signed_ca("Rotation Test CA")
    return certificate_pem(certificate)


@pytest.fixture
def stored(pem):
    """One registry of each kind, written under key 1."""
    with override_settings(FIELD_ENCRYPTION_KEY=[KEY_1]):
        return [
            RegistryFactory(),
            RegistryFactory(ghcr=True),
            RegistryFactory(dockerhub=True),
            RegistryFactory(custom=True, certificate=pem),
        ]


def test_rows_read_under_new_key(stored, pem):
    rotate()

    with override_settings(FIELD_ENCRYPTION_KEY=[KEY_2]):
        for registry in stored:
            reloaded = Registry.objects.get(pk=registry.pk)
            assert reloaded.token == registry.token
            assert reloaded.certificate == registry.certificate


def test_raw_columns_use_new_key(stored):
    rotate()

    for token, certificate in raw_rows().values():
        for value in (token, certificate):
            if value is not None:
                assert decrypts_with(KEY_2, value)


def test_output_counts_by_model(stored):
    out, _ = rotate()

    assert (
        "registries.Registry: 4 rows, 4 secrets re-encrypted, "
        "0 already under the first key." in out
    )
    assert "Every secret uses the first key." in out


def test_second_run_writes_nothing(stored):
    rotate()
    before = raw_rows()

    out, _ = rotate()

    assert raw_rows() == before
    assert "0 secrets re-encrypted, 4 already under the first key." in out


def test_dry_run_writes_nothing(stored):
    before = raw_rows()

    out, _ = rotate("--dry-run")

    assert raw_rows() == before
    assert "4 secrets to re-encrypt, 0 already under the first key." in out
    assert "Dry run: nothing was written." in out


def test_undecryptable_row_stops_before_writes(stored):
    with override_settings(FIELD_ENCRYPTION_KEY=[UNLISTED_KEY]):
        RegistryFactory(custom=True)
    before = raw_rows()

    with pytest.raises(CommandError) as caught:
        rotate()

    assert raw_rows() == before
    message = str(caught.value)
    assert "1 stored secrets cannot be decrypted" in message
    assert "nothing was written" in message


def test_undecryptable_rows_listed(stored):
    with override_settings(FIELD_ENCRYPTION_KEY=[UNLISTED_KEY]):
        lost = [RegistryFactory(custom=True) for _ in range(2)]
    err = StringIO()

    with pytest.raises(CommandError):
        with override_settings(FIELD_ENCRYPTION_KEY=ROTATING):
            call_command("rotate_encryption_key", stdout=StringIO(), stderr=err)

    listed = err.getvalue().splitlines()
    assert listed == [
        f"Cannot decrypt: registries.Registry id={registry.pk} token"
        for registry in lost
    ]


def test_dry_run_lists_undecryptable_rows(stored):
    with override_settings(FIELD_ENCRYPTION_KEY=[UNLISTED_KEY]):
        lost = RegistryFactory(custom=True)

    with pytest.raises(CommandError):
        rotate("--dry-run")

    assert Registry.objects.filter(pk=lost.pk).exists()


def test_error_shows_no_secret(stored):
    with override_settings(FIELD_ENCRYPTION_KEY=[UNLISTED_KEY]):
        lost = RegistryFactory(custom=True)
    ciphertext = raw_rows()[lost.pk][0]

    with pytest.raises(CommandError) as caught:
        rotate()

    assert ciphertext not in str(caught.value)
    assert lost.token not in str(caught.value)


def test_only_old_key_rows_rewritten(stored):
    with override_settings(FIELD_ENCRYPTION_KEY=[KEY_2]):
        current = RegistryFactory(custom=True)
    before = raw_rows()

    out, _ = rotate()

    after = raw_rows()
    assert after[current.pk] == before[current.pk]
    assert after[stored[1].pk] != before[stored[1].pk]
    assert "4 secrets re-encrypted, 1 already under the first key." in out


def test_batches_cover_every_row(pem):
    with override_settings(FIELD_ENCRYPTION_KEY=[KEY_1]):
        registries = [RegistryFactory(custom=True) for _ in range(5)]

    out, _ = rotate("--batch-size", "2", "--verbosity", "2")

    assert "registries.Registry: 2 of 5 rows done." in out
    assert "registries.Registry: 5 of 5 rows done." in out
    for registry in registries:
        assert decrypts_with(KEY_2, raw_rows()[registry.pk][0])


def test_metadata_unchanged(stored):
    before = {
        registry.pk: (
            registry.token_fingerprint,
            registry.token_hint,
            registry.certificate_fingerprint,
        )
        for registry in Registry.objects.without_secrets()
    }
    updated = dict(Registry.objects.values_list("pk", "updated_at"))

    rotate()

    for registry in Registry.objects.without_secrets():
        assert before[registry.pk] == (
            registry.token_fingerprint,
            registry.token_hint,
            registry.certificate_fingerprint,
        )
        assert registry.updated_at == updated[registry.pk]


def test_save_during_rotation_kept(stored):
    """A token saved between the scan and the write is not overwritten."""
    target = stored[1]
    original = Command.stop_on_failures

    def save_then_continue(command, scans):
        with override_settings(FIELD_ENCRYPTION_KEY=ROTATING):
            registry = Registry.objects.get(pk=target.pk)
            registry.token = "ghp_" + "N" * 36
            registry.save()
        return original(command, scans)

    with mock.patch.object(Command, "stop_on_failures", save_then_continue):
        rotate()

    with override_settings(FIELD_ENCRYPTION_KEY=[KEY_2]):
        assert Registry.objects.get(pk=target.pk).token == "ghp_" + "N" * 36


def test_unreadable_write_during_rotation_stops(stored):
    """A value no key decrypts, written after the scan, rolls its batch back."""
    last = stored[-1]
    original = Command.stop_on_failures

    def corrupt_then_continue(command, scans):
        write_raw_token(last.pk, Fernet(UNLISTED_KEY).encrypt(b"x").decode())
        return original(command, scans)

    with mock.patch.object(Command, "stop_on_failures", corrupt_then_continue):
        with pytest.raises(CommandError, match=f"id={last.pk} token was changed"):
            rotate("--batch-size", "1")

    rows = raw_rows()
    assert decrypts_with(KEY_2, rows[stored[1].pk][0])
    assert decrypts_with(KEY_1, rows[last.pk][1])


def test_single_key_has_nothing_to_do(stored):
    out, _ = rotate(keys=KEY_1)

    assert "0 secrets re-encrypted, 4 already under the first key." in out


def test_rows_without_secrets_counted(db):
    RegistryFactory()

    out, _ = rotate()

    assert "registries.Registry: 1 rows, 0 secrets re-encrypted" in out


def test_batch_size_must_be_positive(stored):
    with pytest.raises(CommandError, match="--batch-size must be 1 or more"):
        rotate("--batch-size", "0")


def test_invalid_key_reported(stored):
    with pytest.raises(CommandError, match="not a Fernet key"):
        rotate(keys="not-a-key")
