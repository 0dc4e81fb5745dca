"""Schedule the nightly invoice jobs in Celery beat (crontab in the organisation's time zone).

01:30 recalculate invoice statuses, 02:30 run collection steps. Admins can see and
edit both in Django admin (Periodic tasks).
"""

from django.conf import settings
from django.db import migrations

TASKS = [
    ("Nightly invoice status recalculation", "invoices.recalculate_statuses", "30", "1"),
    ("Nightly collection steps", "invoices.run_collections", "30", "2"),
]


def forwards(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minute, hour in TASKS:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=settings.TIME_ZONE,
        )
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={"task": task, "crontab": crontab, "description": "Idempotent; split into chunks of clients."},
        )


def backwards(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, *_ in TASKS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0002_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
