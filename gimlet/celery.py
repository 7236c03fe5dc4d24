"""The Celery application shared by the web process, workers and beat."""

import os

from celery import Celery
from celery.signals import (
    after_setup_task_logger,
    task_postrun,
    task_prerun,
    worker_init,
)

from gimlet import log_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gimlet.settings")

app = Celery("gimlet")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Task ids and names in the log lines of each task, and Celery's task
# logger on the root handlers; see gimlet.log_context.
task_prerun.connect(log_context.bind_task_fields)
task_postrun.connect(log_context.unbind_task_fields)
after_setup_task_logger.connect(log_context.propagate_task_logger)


@worker_init.connect
def check_stored_secrets(**kwargs):
    """Stop a starting worker whose keys cannot decrypt the stored secrets.

    Celery logs and ignores exceptions that signal receivers raise (celery
    5.7, celery/utils/dispatch/signal.py), but SystemExit is no Exception
    and ends the process with the check's message.
    """
    from django.core.management.base import SystemCheckError

    from gimlet.checks import startup_checks

    try:
        startup_checks()
    except SystemCheckError as error:
        raise SystemExit(str(error)) from None
