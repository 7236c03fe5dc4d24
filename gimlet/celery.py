"""The Celery application shared by the web process, workers and beat."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gimlet.settings")

app = Celery("gimlet")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
