"""A system check that stored secrets decrypt with the configured keys.

It samples rows of every encrypted column: the oldest, the newest and
some at random. A sampled value that no key in FIELD_ENCRYPTION_KEY
decrypts is an error, and one that only an older key decrypts is a
warning. It is a database check, so Django runs it only when databases
are named, as in `manage.py check --database default` and `migrate`. The
web and worker processes run it at start-up through `startup_checks()`,
from gimlet/wsgi.py, gimlet/asgi.py and gimlet/celery.py.

A table that does not exist yet, as before the first `migrate`, is
skipped. A database that does not respond gives a warning only, since
/healthz reports the outage.
"""

import logging

from cryptography.fernet import InvalidToken, MultiFernet
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import SystemCheckError
from django.core.management.color import no_style
from django.db import DatabaseError, connections, router

from registries.fields import configured_fernets, encrypted_models, stored_ciphertext

logger = logging.getLogger(__name__)

# Rows sampled per column from each end of the table and at random, so
# start-up stays fast however many credentials there are.
SAMPLE_SIZE = 10
# Row ids named in a message.
MAX_LISTED_IDS = 10
REPAIR_HINT = (
    "Add the key that encrypted them to FIELD_ENCRYPTION_KEY, after the "
    "current key, and restart. `manage.py rotate_encryption_key --dry-run` "
    "lists every row that fails. Without that key, enter those secrets again."
)
ROTATE_HINT = (
    "Run `manage.py rotate_encryption_key`, then remove the old keys from "
    "FIELD_ENCRYPTION_KEY."
)


@checks.register(checks.Tags.security, checks.Tags.database)
def check_stored_secrets(app_configs=None, databases=None, **kwargs):
    """Report stored secrets that the configured keys cannot decrypt."""
    if not databases:
        return []
    try:
        fernets = configured_fernets()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="gimlet.E001")]
    messages = []
    for alias in databases:
        for model, fields in encrypted_models():
            if app_configs is not None and model._meta.app_config not in app_configs:
                continue
            if router.allow_migrate_model(alias, model):
                messages.extend(check_model(alias, model, fields, fernets))
    return messages


def check_model(alias, model, fields, fernets):
    try:
        columns = existing_columns(alias, model)
        return [
            message
            for field in fields
            if field.column in columns
            for message in check_column(alias, model, field, fernets)
        ]
    except DatabaseError as error:
        return [
            checks.Warning(
                f"Could not read {model._meta.label} to check that its secrets "
                f"decrypt: the database {alias!r} failed ({type(error).__name__}).",
                obj=model,
                id="gimlet.W002",
            )
        ]


def existing_columns(alias, model):
    """Return the table's column names, or none if the table does not exist."""
    connection = connections[alias]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if table not in connection.introspection.table_names(cursor):
            return set()
        description = connection.introspection.get_table_description(cursor, table)
    return {column.name for column in description}


def sample(alias, model, field):
    """Return {pk: ciphertext} for up to 3 x SAMPLE_SIZE rows with a value."""
    rows = (
        stored_ciphertext(model, [field])
        .using(alias)
        .filter(**{f"{field.name}__isnull": False})
    )
    found = {}
    for order in ("pk", "-pk", "?"):
        found.update(rows.order_by(order)[:SAMPLE_SIZE])
    return found


def check_column(alias, model, field, fernets):
    label = f"{model._meta.label}.{field.name}"
    current, every_key = MultiFernet(fernets[:1]), MultiFernet(fernets)
    failed, older = [], []
    rows = sample(alias, model, field)
    for pk, ciphertext in sorted(rows.items()):
        try:
            current.decrypt(ciphertext.encode())
            continue
        except InvalidToken:
            pass
        try:
            every_key.decrypt(ciphertext.encode())
            older.append(pk)
        except InvalidToken:
            failed.append(pk)
    messages = []
    if failed:
        messages.append(
            checks.Error(
                f"{len(failed)} of {len(rows)} sampled values of {label} cannot be "
                f"decrypted with the keys in FIELD_ENCRYPTION_KEY (ids "
                f"{listed(failed)}).",
                hint=REPAIR_HINT,
                obj=model,
                id="gimlet.E002",
            )
        )
    if older:
        messages.append(
            checks.Warning(
                f"{len(older)} of {len(rows)} sampled values of {label} are "
                "encrypted with an older key in FIELD_ENCRYPTION_KEY.",
                hint=ROTATE_HINT,
                obj=model,
                id="gimlet.W001",
            )
        )
    return messages


def listed(ids):
    shown = ", ".join(str(pk) for pk in ids[:MAX_LISTED_IDS])
    more = len(ids) - MAX_LISTED_IDS
    return f"{shown} and {more} more" if more > 0 else shown


def startup_checks():
    """Run the stored-secrets check on every database and raise on an error.

    gunicorn runs no system checks, runserver skips database checks, and
    Celery's Django fixup runs them without databases and ignores the
    result (celery 5.7, celery/fixups/django.py). So the processes that
    decrypt secrets call this once. Warnings are logged. Errors raise
    SystemCheckError, which stops the process with the check's message.
    """
    messages = [
        message
        for message in check_stored_secrets(databases=list(settings.DATABASES))
        if not message.is_silenced()
    ]
    errors = [message for message in messages if message.is_serious()]
    for message in messages:
        if not message.is_serious():
            logger.warning("System check: %s", message)
    if errors:
        style = no_style()
        text = "\n".join(style.ERROR(str(message)) for message in errors)
        raise SystemCheckError(
            f"System check identified {len(errors)} error(s) with the stored "
            f"secrets:\n{text}"
        )
