import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gimlet.settings")

application = get_asgi_application()

# Refuse to serve when the stored secrets do not decrypt; see gimlet.checks.
from gimlet.checks import startup_checks  # noqa: E402

startup_checks()
