"""Re-encrypt every stored secret under the first key of FIELD_ENCRYPTION_KEY.

Run it after every web, worker and beat process has restarted with the new
key in front of the old ones ("new,old"). It works in two passes:

1. Read every encrypted column as stored and decrypt it with the
   configured keys. If any value fails, list those rows and stop before
   writing anything.
2. Re-encrypt, in batches of one transaction each, the values that the
   first key does not decrypt yet. Each batch locks its rows and reads them
   again, so a secret saved since the first pass is re-encrypted as saved.

Values already under the first key stay untouched, so a second run, or a
run after an interrupted one, writes nothing it need not write.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field

from cryptography.fernet import InvalidToken
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_scopes import scopes_disabled

from registries.fields import (
    configured_fernets,
    encrypted_models,
    stored_ciphertext,
)

logger = logging.getLogger(__name__)

CURRENT = "current"
STALE = "stale"
FAILED = "failed"
# Failing rows listed in the error; the count covers the rest.
MAX_LISTED_FAILURES = 200


@dataclass
class ModelScan:
    """The first pass's findings in one model's encrypted columns."""

    label: str
    rows: int = 0
    states: Counter = field(default_factory=Counter)
    stale: dict = field(default_factory=dict)  # field name -> set of pks
    failures: list = field(default_factory=list)  # (pk, field name)


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret under the first key in "
        "FIELD_ENCRYPTION_KEY. Set the variable to 'new,old' in every "
        "process first; remove the old key only after this command succeeds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Decrypt and count every secret, but write nothing.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Rows re-encrypted per transaction (default 500).",
        )

    def handle(self, *args, dry_run, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        self.verbosity = options["verbosity"]
        try:
            fernets = configured_fernets()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        self.current_key, self.all_keys = fernets[0], fernets
        with scopes_disabled():
            scans = [(m, f, self.scan(m, f)) for m, f in encrypted_models()]
            self.stop_on_failures([scan for _, _, scan in scans])
            written = Counter()
            if not dry_run:
                for model, fields, scan in scans:
                    written[scan.label] = self.rotate(model, fields, scan, batch_size)
        self.report(scans, written, dry_run)

    def classify(self, ciphertext):
        """Return (state, plaintext) of one stored value."""
        token = ciphertext.encode()
        try:
            self.current_key.decrypt(token)
            return CURRENT, None
        except InvalidToken:
            pass
        for fernet in self.all_keys[1:]:
            try:
                return STALE, fernet.decrypt(token).decode()
            except InvalidToken:
                continue
        return FAILED, None

    def scan(self, model, fields):
        scan = ModelScan(label=model._meta.label)
        for pk, *values in stored_ciphertext(model, fields).iterator(chunk_size=2000):
            scan.rows += 1
            for column, value in zip(fields, values, strict=True):
                if value is None:
                    continue
                state, _ = self.classify(value)
                scan.states[state] += 1
                if state == STALE:
                    scan.stale.setdefault(column.name, set()).add(pk)
                elif state == FAILED:
                    scan.failures.append((pk, column.name))
        return scan

    def stop_on_failures(self, scans):
        failures = [
            f"{scan.label} id={pk} {name}"
            for scan in scans
            for pk, name in scan.failures
        ]
        if not failures:
            return
        listed = failures[:MAX_LISTED_FAILURES]
        for line in listed:
            self.stderr.write(f"Cannot decrypt: {line}")
        if len(failures) > len(listed):
            self.stderr.write(f"... and {len(failures) - len(listed)} more.")
        raise CommandError(
            f"{len(failures)} stored secrets cannot be decrypted with any key in "
            "FIELD_ENCRYPTION_KEY; nothing was written. Add the key that "
            "encrypted them to FIELD_ENCRYPTION_KEY (after the new key), or "
            "enter those secrets again, and run the command again."
        )

    def rotate(self, model, fields, scan, batch_size):
        """Re-encrypt the stale values that the scan found and return their count."""
        pks = sorted(set().union(*scan.stale.values())) if scan.stale else []
        written = 0
        for start in range(0, len(pks), batch_size):
            batch = pks[start : start + batch_size]
            written += self.rotate_batch(model, fields, batch)
            if self.verbosity >= 2:
                self.stdout.write(
                    f"{scan.label}: {start + len(batch)} of {len(pks)} rows done."
                )
        if written:
            logger.info("Re-encrypted %d secrets of %s.", written, scan.label)
        return written

    @transaction.atomic
    def rotate_batch(self, model, fields, pks):
        rows = stored_ciphertext(model, fields).filter(pk__in=pks).select_for_update()
        changed = {f.name: [] for f in fields}
        for pk, *values in rows:
            for column, value in zip(fields, values, strict=True):
                if value is None:
                    continue
                state, plaintext = self.classify(value)
                if state == FAILED:
                    # A process without the new key list wrote it after the
                    # scan. This batch rolls back, and earlier ones stay.
                    raise CommandError(
                        f"{model._meta.label} id={pk} {column.name} was changed "
                        "since the scan and cannot be decrypted. Restart every "
                        "process with the new FIELD_ENCRYPTION_KEY and run the "
                        "command again."
                    )
                if state == STALE:
                    changed[column.name].append(
                        model(pk=pk, **{column.name: plaintext})
                    )
        # bulk_update() passes each value through the field, which encrypts
        # it under the first key.
        for name, objects in changed.items():
            if objects:
                model._base_manager.bulk_update(objects, [name])
        self.verify(model, fields, pks)
        return sum(len(objects) for objects in changed.values())

    def verify(self, model, fields, pks):
        """Raise, rolling the batch back, unless the first key decrypts it all."""
        for pk, *values in stored_ciphertext(model, fields).filter(pk__in=pks):
            for column, value in zip(fields, values, strict=True):
                if value is not None and self.classify(value)[0] != CURRENT:
                    raise CommandError(
                        f"{model._meta.label} id={pk} {column.name} does not "
                        "decrypt with the first key after re-encryption; the "
                        "batch was rolled back."
                    )

    def report(self, scans, written, dry_run):
        for _, _, scan in scans:
            stale = scan.states[STALE]
            current = scan.states[CURRENT]
            if dry_run:
                action = f"{stale} secrets to re-encrypt"
            else:
                action = f"{written[scan.label]} secrets re-encrypted"
            self.stdout.write(
                f"{scan.label}: {scan.rows} rows, {action}, "
                f"{current} already under the first key."
            )
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
        else:
            self.stdout.write(self.style.SUCCESS("Every secret uses the first key."))
