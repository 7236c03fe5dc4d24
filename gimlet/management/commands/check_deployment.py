"""Report what would break or weaken a production deployment.

The checks here reach the database and the broker, so they are not
registered as Django system checks (which `manage.py check` and every
runserver reload would then run). The command also runs Django's own
deployment checks and the project's database checks, so one command gives
the whole picture. It exits with status 1 on any error.
"""

import ipaddress
import os
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from kombu import Connection
from kombu.utils.url import maybe_sanitize_url

from gimlet.logging import redact
from registries.fields import get_crypter

# Seconds to wait for the broker to accept a connection.
BROKER_TIMEOUT = 5
# Shorter metrics tokens are easier to guess; secrets.token_urlsafe(32)
# gives 43 characters.
MIN_METRICS_TOKEN_LENGTH = 32
# Email backends that never deliver a message.
UNDELIVERING_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend": "prints messages to the console",
    "django.core.mail.backends.dummy.EmailBackend": "discards messages",
    "django.core.mail.backends.locmem.EmailBackend": "keeps messages in memory",
    "django.core.mail.backends.filebased.EmailBackend": "writes messages to files",
}
REDIS_SCHEMES = ("redis://", "rediss://", "redis+socket://", "sentinel://")


def error(message, hint, number):
    return checks.Error(message, hint=hint, id=f"deployment.E{number:03d}")


def warning(message, hint, number):
    return checks.Warning(message, hint=hint, id=f"deployment.W{number:03d}")


def check_keys():
    found = []
    try:
        secret_key = settings.SECRET_KEY
    except ImproperlyConfigured:  # Django raises when it is empty.
        secret_key = ""
    if not secret_key:
        found.append(
            error(
                "DJANGO_SECRET_KEY is missing.",
                "Set it to the output of python -c 'import secrets; "
                "print(secrets.token_urlsafe(50))'.",
                1,
            )
        )
    try:
        get_crypter()
    except ImproperlyConfigured as problem:
        found.append(
            error(
                f"FIELD_ENCRYPTION_KEY is missing or invalid: {problem}",
                "Set it to the key that encrypted the stored secrets. A new "
                "deployment generates one with python -c 'from "
                "cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'.",
                2,
            )
        )
    return found


def check_debug():
    if not settings.DEBUG:
        return []
    return [
        error(
            "DEBUG is on: error pages show settings and source code to anyone.",
            "Set DJANGO_DEBUG=false.",
            3,
        )
    ]


def check_allowed_hosts():
    if settings.DEBUG or settings.ALLOWED_HOSTS:
        return []
    return [
        error(
            "DJANGO_ALLOWED_HOSTS is empty, so every request is rejected with 400.",
            "Set it to the host names of the service, comma-separated.",
            4,
        )
    ]


def check_broker():
    """Connect to the broker once; report the embedded one as an error."""
    url = settings.CELERY_BROKER_URL
    if not settings.REDIS_URL:
        return [
            error(
                f"REDIS_URL is not set, so the broker is {url} and the cache "
                "is the database: both work on one host only.",
                "Set REDIS_URL to a Redis server that every web process, "
                "worker and beat reaches, for example redis://redis:6379/0.",
                5,
            )
        ]
    connection = Connection(
        url,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=BROKER_TIMEOUT,
    )
    try:
        connection.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT
        )
    except Exception as problem:  # Each transport raises its own errors.
        return [
            error(
                f"The broker at {maybe_sanitize_url(url)} is unreachable: "
                f"{redact(str(problem))}",
                "Check REDIS_URL, and that Redis runs and accepts connections "
                "from this host.",
                6,
            )
        ]
    finally:
        connection.release()
    return []


def check_email_backend():
    backend = settings.EMAIL_BACKEND
    if settings.DEBUG or backend not in UNDELIVERING_BACKENDS:
        return []
    return [
        error(
            f"The email backend {backend} {UNDELIVERING_BACKENDS[backend]}, so "
            "no alert reaches anyone.",
            "Set EMAIL_URL to your SMTP server, for example "
            "smtp+tls://user:password@smtp.example.com:587.",
            7,
        )
    ]


def check_base_url():
    """GIMLET_BASE_URL must come from the environment in production.

    The setting defaults to a development address, so the environment is
    read here to tell a missing value from one that happens to match it.
    """
    if not os.environ.get("GIMLET_BASE_URL"):
        return [
            error(
                "GIMLET_BASE_URL is not set, so the links in alert emails point "
                f"to the development address {settings.GIMLET_BASE_URL}.",
                "Set it to the public URL of the service, for example "
                "https://gimlet.example.com.",
                8,
            )
        ]
    parts = urlsplit(settings.GIMLET_BASE_URL)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return [
            error(
                f"GIMLET_BASE_URL is {settings.GIMLET_BASE_URL!r}, which is not an "
                "absolute http or https URL.",
                "Set it to the public URL of the service, for example "
                "https://gimlet.example.com.",
                9,
            )
        ]
    found = []
    if unreachable_host(parts.hostname):
        found.append(
            warning(
                f"GIMLET_BASE_URL points at {parts.hostname}, which recipients "
                "of alert emails cannot reach.",
                "Set it to the public URL of the service.",
                1,
            )
        )
    elif parts.scheme != "https":
        found.append(
            warning(
                "GIMLET_BASE_URL uses http, so links in alert emails are not "
                "encrypted.",
                "Serve the service over HTTPS and use an https URL.",
                2,
            )
        )
    return found


def unreachable_host(hostname):
    """Return whether `hostname` names the local machine of its reader.

    A link to localhost, or to a loopback or unspecified address, opens
    the recipient's own machine, not this service.
    """
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def check_database():
    connection = connections["default"]
    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as problem:
        return [
            error(
                f"The database is unreachable: {redact(str(problem)).strip()}",
                "Check DATABASE_URL, and that the database server runs and "
                "accepts connections from this host.",
                10,
            )
        ]
    found = []
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
        found.append(
            error(
                f"{len(plan)} migrations are not applied, starting with {names}.",
                "Run python manage.py migrate.",
                11,
            )
        )
    if connection.vendor == "sqlite":
        found.append(
            warning(
                "The database is SQLite, which serves one host and one writer at "
                "a time.",
                "Set DATABASE_URL to PostgreSQL, for example "
                "postgres://gimlet:password@db.example.com:5432/gimlet.",
                3,
            )
        )
    return found


def check_time_limits():
    """The broker's visibility timeout must outlast every task's time limit.

    Redis hands a reserved task that was not acknowledged within the
    visibility timeout to another worker, so a longer task would run twice
    at once.
    """
    if not settings.CELERY_BROKER_URL.startswith(REDIS_SCHEMES):
        return []
    from gimlet.celery import app

    app.loader.import_default_modules()
    limits = {
        name: task.time_limit or app.conf.task_time_limit
        for name, task in app.tasks.items()
        if not name.startswith("celery.")
    }
    limits = {name: limit for name, limit in limits.items() if limit}
    if not limits:
        return []
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(
        "visibility_timeout", 3600
    )
    longest = max(limits, key=limits.get)
    if visibility > limits[longest]:
        return []
    return [
        error(
            f"The broker's visibility timeout ({visibility} s) is not longer than "
            f"the time limit of {longest} ({limits[longest]} s), so Redis could "
            "deliver a running task to a second worker.",
            f"Set CELERY_VISIBILITY_TIMEOUT above {limits[longest]}.",
            12,
        )
    ]


def check_metrics_access():
    token = settings.GIMLET_METRICS_TOKEN
    if not token and not settings.GIMLET_METRICS_ALLOWED_NETWORKS:
        return [
            checks.Info(
                "GET /metrics rejects every scrape: neither GIMLET_METRICS_TOKEN "
                "nor GIMLET_METRICS_ALLOWED_NETWORKS is set.",
                hint="Set one of them to let Prometheus scrape the service.",
                id="deployment.I001",
            )
        ]
    if token and len(token) < MIN_METRICS_TOKEN_LENGTH:
        return [
            warning(
                f"GIMLET_METRICS_TOKEN has {len(token)} characters, fewer than "
                f"{MIN_METRICS_TOKEN_LENGTH}.",
                "Generate one with python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'.",
                4,
            )
        ]
    return []


DEPLOYMENT_CHECKS = [
    check_keys,
    check_debug,
    check_allowed_hosts,
    check_broker,
    check_email_backend,
    check_base_url,
    check_database,
    check_time_limits,
    check_metrics_access,
]


def run_deployment_checks():
    """Return the messages of this module's checks and of Django's."""
    messages = [message for check in DEPLOYMENT_CHECKS for message in check()]
    messages += checks.run_checks(
        include_deployment_checks=True, databases=list(settings.DATABASES)
    )
    return [message for message in messages if not message.is_silenced()]


def message_text(message):
    """Return the message as `check` prints it, without the "?" of no object."""
    text = str(message)
    return text.removeprefix("?: ")


class Command(BaseCommand):
    help = (
        "Check the deployment: keys, DEBUG, allowed hosts, broker, email, "
        "GIMLET_BASE_URL, database, migrations and time limits, plus Django's "
        "deployment checks. Exits with status 1 on any error."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--fail-level",
            choices=["ERROR", "WARNING"],
            default="ERROR",
            help="Lowest message level that makes the command fail (default: ERROR).",
        )

    def handle(self, *args, fail_level, **options):
        messages = sorted(run_deployment_checks(), key=lambda m: (-m.level, m.id))
        threshold = getattr(checks, fail_level)
        failing = [message for message in messages if message.level >= threshold]
        for message in messages:
            line = message_text(message)
            if message.level >= threshold:
                self.stderr.write(self.style.ERROR(line))
            elif message.level >= checks.WARNING:
                self.stderr.write(self.style.WARNING(line))
            else:
                self.stdout.write(line)
        if failing:
            raise CommandError(
                f"check_deployment found {len(failing)} problem(s) at level "
                f"{fail_level} or above."
            )
        self.stdout.write(
            f"check_deployment found no problems at level {fail_level} or above."
        )
