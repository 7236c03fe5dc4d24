import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gimlet.settings")

application = get_wsgi_application()

# Refuse to serve when the stored secrets do not decrypt; see gimlet.checks.
from gimlet.checks import startup_checks  # noqa: E402

startup_checks()
