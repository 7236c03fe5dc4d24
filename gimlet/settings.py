"""Settings for Gimlet registries, read from the environment in one place.

Every value comes from an environment variable (or `.env` beside manage.py
when present). Production differs from development only through those
variables; DJANGO_DEBUG=true marks development.
"""

import ipaddress
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=False)

KEY_HELP = (
    "Generate one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())' "
    "(or run `python3 run.py`, which writes a .env with fresh keys)."
)
SECRET_KEY_HELP = (
    "Generate one with: python -c 'import secrets; "
    "print(secrets.token_urlsafe(50))' "
    "(or run `python3 run.py`, which writes a .env with fresh keys)."
)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(f"DJANGO_SECRET_KEY is not set. {SECRET_KEY_HELP}")

# Comma-separated Fernet keys: the first encrypts, every key decrypts, so a
# new key goes first and the old one stays listed until rotation is done.
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])
if not FIELD_ENCRYPTION_KEY:
    raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEY is not set. {KEY_HELP}")

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [],
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "encrypted_model_fields",
    "gimlet",
    "environments",
    "registries",
]

MIDDLEWARE = [
    "gimlet.log_context.RequestLogContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gimlet.tenancy.TenantScopeMiddleware",
]

if not DEBUG:
    # Serve the admin's and Swagger UI's static files from STATIC_ROOT
    # (after collectstatic), so gunicorn needs no web server in front of it
    # for them. runserver serves them itself in development.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "gimlet.urls"
WSGI_APPLICATION = "gimlet.wsgi.application"
ASGI_APPLICATION = "gimlet.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'gimlet.sqlite3'}"
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # Web, worker and beat share one SQLite file: wait for a lock instead of
    # failing at once, let readers run beside the writer, and take the write
    # lock when a transaction begins. A deferred transaction that reads and
    # then writes fails at once with "database is locked" when another
    # process writes, as the database cache's add() does.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend whose per-request health check reads the socket
        # instead of running SELECT 1 on the server.
        DATABASES["default"]["ENGINE"] = "gimlet.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=VAR_DIR / "static")

# Broker and cache: Redis when REDIS_URL is set, otherwise kombu's filesystem
# transport and the database cache, which every process on one host shares.
REDIS_URL = env.str("REDIS_URL", default="")
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Seconds a reserved, unacknowledged task stays hidden from other
        # workers; countdowns and retries are kept below it.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        # How often a worker looks for tasks whose worker died (kombu 5.7's
        # Redis transport scans every interval x throttle seconds, 100 by
        # default): every 10 s, so a lost task is redelivered soon after its
        # visibility timeout.
        "unacked_restore_interval": env.int(
            "CELERY_UNACKED_RESTORE_INTERVAL", default=10
        ),
        "unacked_restore_throttle": 1,
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "gimlet",
        }
    }
else:
    CELERY_BROKER_URL = "filesystem://localhost//"
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "gimlet_cache",
        }
    }

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="Gimlet registries <gimlet@localhost>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "gimlet.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "gimlet.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["gimlet.api.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "gimlet.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "gimlet.api.exceptions.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "gimlet.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "gimlet.api.parsers.MultiPartParser",
    ],
    # Throttles count in the default cache, which every web process shares
    # (Redis, or the database cache without REDIS_URL). Views opt in with a
    # throttle scope; rates are requests per second, minute, hour or day.
    "DEFAULT_THROTTLE_RATES": {
        "auth-token": env.str("GIMLET_API_TOKEN_RATE", default="10/minute"),
        "pull-secret": env.str("GIMLET_API_PULL_SECRET_RATE", default="60/minute"),
        "registry-check": env.str("GIMLET_API_CHECK_RATE", default="30/minute"),
    },
    # Proxies in front of the web server whose X-Forwarded-For entries are
    # trusted. With 0 the client address is REMOTE_ADDR, so a client cannot
    # dodge the token throttle by sending its own X-Forwarded-For.
    "NUM_PROXIES": env.int("DJANGO_NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Gimlet registries API",
    "VERSION": "1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "DESCRIPTION": (
        "Registry credentials per environment, their checks and image pull "
        "secrets. Authenticate with `Authorization: Token <key>` from "
        "POST /api/v1/auth/token/, or with a session."
    ),
}

# Production hardening; each can be relaxed through the environment, for
# example behind a proxy that terminates TLS on a private network.
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=True)
    if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
# security.W021 only reports that HSTS preloading is off. Preloading commits
# every subdomain to HTTPS for months and needs a submission to browsers, so
# it is an opt-in: DJANGO_SECURE_HSTS_PRELOAD=true.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
X_FRAME_OPTIONS = "DENY"
# Load balancers and kubelet often probe over plain HTTP inside the
# network, so /healthz responds directly instead of redirecting to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Error pages and error emails hide secrets with DEBUG on too; see
# gimlet/error_reports.py.
DEFAULT_EXCEPTION_REPORTER = "gimlet.error_reports.SecretSafeExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = (
    "gimlet.error_reports.SecretSafeExceptionReporterFilter"
)

# Logging is configured here only: Celery keeps this configuration (see
# CELERY_WORKER_HIJACK_ROOT_LOGGER). DJANGO_LOG_FORMAT=json writes one JSON
# object per line for log collectors and is the default in production;
# text is for people and the default with DJANGO_DEBUG=true. Every handler
# adds the bound context fields (tenant, registry, task and request ids)
# and redacts token-shaped strings.
LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(
        f"DJANGO_LOG_FORMAT is {LOG_FORMAT!r}; set it to json or text."
    )
LOGGING_CONFIG = "gimlet.log_formatting.configure_logging"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "log_context": {"()": "gimlet.log_context.LogContextFilter"},
        "redact_secrets": {"()": "gimlet.logging.RedactSecretsFilter"},
    },
    "formatters": {
        "text": {
            "()": "gimlet.log_formatting.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
        "json": {"()": "gimlet.log_formatting.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["log_context", "redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
    },
}
# Without this, a worker replaces the root logger's handlers with its own
# plain-text one. The worker's --loglevel still sets the root level.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Gimlet's own settings. Base URLs below are trusted configuration; what
# users enter goes through the outbound-request guard.
GIMLET_BASE_URL = env.str("GIMLET_BASE_URL", default="http://127.0.0.1:8000")
GIMLET_GITHUB_API_URL = env.str(
    "GIMLET_GITHUB_API_URL", default="https://api.github.com"
).rstrip("/")
GIMLET_GHCR_URL = env.str("GIMLET_GHCR_URL", default="https://ghcr.io").rstrip("/")
GIMLET_DOCKERHUB_AUTH_URL = env.str(
    "GIMLET_DOCKERHUB_AUTH_URL", default="https://auth.docker.io"
).rstrip("/")
# Days before an expiry date at which tenant admins are alerted, plus one
# alert when it has passed.
GIMLET_EXPIRY_ALERT_DAYS = sorted(
    (
        int(day)
        for day in env.list("GIMLET_EXPIRY_ALERT_DAYS", default=["14", "7", "3", "1"])
    ),
    reverse=True,
)
# Days ahead of an expiry date during which a credential is flagged expiring.
GIMLET_EXPIRING_WINDOW_DAYS = env.int("GIMLET_EXPIRING_WINDOW_DAYS", default=14)
GIMLET_REVALIDATE_INTERVAL_MINUTES = env.int(
    "GIMLET_REVALIDATE_INTERVAL_MINUTES", default=360
)
GIMLET_VALIDATION_CONCURRENCY = env.int("GIMLET_VALIDATION_CONCURRENCY", default=20)
# Seconds one credential's check holds its lock; longer than the check
# task's hard time limit (90 s), so that a crashed check releases it.
GIMLET_CHECK_LOCK_SECONDS = env.int("GIMLET_CHECK_LOCK_SECONDS", default=120)
# Days of check history kept. Each credential's latest check is kept anyway.
GIMLET_CHECK_RETENTION_DAYS = env.int("GIMLET_CHECK_RETENTION_DAYS", default=90)
# CIDRs that user-entered registry URLs may resolve to although they are
# loopback, private or reserved. Metadata addresses stay refused.
GIMLET_REGISTRY_ALLOWED_NETWORKS = env.list(
    "GIMLET_REGISTRY_ALLOWED_NETWORKS", default=[]
)
GIMLET_ALLOW_HTTP_REGISTRIES = env.bool("GIMLET_ALLOW_HTTP_REGISTRIES", default=False)
GIMLET_BUILTIN_REGISTRY_URL = env.str(
    "GIMLET_BUILTIN_REGISTRY_URL", default="127.0.0.1:32447"
)
# Outbound request limits: connect and read timeouts in seconds, body cap
# in bytes.
GIMLET_CONNECT_TIMEOUT = env.float("GIMLET_CONNECT_TIMEOUT", default=5.0)
GIMLET_READ_TIMEOUT = env.float("GIMLET_READ_TIMEOUT", default=10.0)
GIMLET_MAX_RESPONSE_BYTES = env.int("GIMLET_MAX_RESPONSE_BYTES", default=1024 * 1024)
# Maximum seconds one outbound request may take, body included, so a server
# that trickles bytes cannot keep a check past its time limit.
GIMLET_REQUEST_DEADLINE = env.float("GIMLET_REQUEST_DEADLINE", default=30.0)
# After GitHub accepts a token, also ask ghcr.io for a pull token with it.
GIMLET_GHCR_CHECK = env.bool("GIMLET_GHCR_CHECK", default=True)

# Clients allowed to scrape GET /metrics: those presenting this bearer
# token, and those whose address is in one of these CIDRs. With neither set,
# every scrape is rejected, because the metrics name tenants and
# credentials and no network is safe to assume as internal.
GIMLET_METRICS_TOKEN = env.str("GIMLET_METRICS_TOKEN", default="")
GIMLET_METRICS_ALLOWED_NETWORKS = env.list(
    "GIMLET_METRICS_ALLOWED_NETWORKS", default=[]
)
for _network in GIMLET_METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as error:
        raise ImproperlyConfigured(
            f"GIMLET_METRICS_ALLOWED_NETWORKS: {error}. List CIDRs such as "
            "10.0.0.0/8,2001:db8::/32."
        ) from None
# Minutes of check history that the check metrics count; by default one
# sweep interval, so that each credential's scheduled check is counted once.
GIMLET_METRICS_CHECK_WINDOW_MINUTES = env.int(
    "GIMLET_METRICS_CHECK_WINDOW_MINUTES", default=GIMLET_REVALIDATE_INTERVAL_MINUTES
)
