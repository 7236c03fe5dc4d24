"""Settings for the test suite: the real settings with fixed test keys.

DATABASE_URL and REDIS_URL still come from the environment, so CI runs the
suite against PostgreSQL and Redis.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-" + "x" * 50)
os.environ.setdefault(
    "FIELD_ENCRYPTION_KEY", "Cf7XIPSCnDk6ipVCwuCpQpW8EHiSzDBFRk5Qsq07zkw="
)
os.environ.setdefault("DJANGO_DEBUG", "false")

from gimlet.settings import *  # noqa: E402, F403
from gimlet.settings import MIDDLEWARE, REDIS_URL  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if not os.environ.get("EMAIL_URL"):
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SECURE_SSL_REDIRECT = False

if not REDIS_URL:
    CELERY_BROKER_URL = "memory://"
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# No collected static files in tests: WhiteNoise would warn about the
# missing STATIC_ROOT on every test client.
MIDDLEWARE = [
    name for name in MIDDLEWARE if name != "whitenoise.middleware.WhiteNoiseMiddleware"
]
