"""Schedule the daily deletion of old check history."""

from django.db import migrations

PRUNE_NAME = "Delete old check history"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    daily, _ = IntervalSchedule.objects.get_or_create(every=1, period="days")
    PeriodicTask.objects.get_or_create(
        name=PRUNE_NAME,
        defaults={
            "task": "registries.prune_checks",
            "interval": daily,
            # A copy left over from an outage expires instead of running
            # late beside the next one.
            "expire_seconds": 12 * 3600,
        },
    )


def delete_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=PRUNE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("gimlet", "0003_periodic_tasks")]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
