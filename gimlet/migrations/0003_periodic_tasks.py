"""Create the beat schedules; they stay editable in the admin afterwards."""

from django.conf import settings
from django.db import migrations

SWEEP_NAME = "Check every registry credential"
ALERTS_NAME = "Send expiry alerts"
ALERT_INTERVAL_MINUTES = 60


def create_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    sweep_minutes = settings.GIMLET_REVALIDATE_INTERVAL_MINUTES
    for name, task, minutes in (
        (SWEEP_NAME, "registries.sweep", sweep_minutes),
        (ALERTS_NAME, "registries.send_expiry_alerts", ALERT_INTERVAL_MINUTES),
    ):
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=minutes, period="minutes"
        )
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={
                "task": task,
                "interval": interval,
                # A copy left over from an outage expires instead of running
                # late beside the next one.
                "expire_seconds": minutes * 30,
            },
        )


def delete_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[SWEEP_NAME, ALERTS_NAME]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("gimlet", "0002_cache_table"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
