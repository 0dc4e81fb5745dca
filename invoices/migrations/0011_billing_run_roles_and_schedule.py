"""Finance may create, rebuild, cancel and issue billing runs; a Celery beat job that builds the
drafts for the coming month (off until an Admin turns it on in Django admin, Periodic tasks; the
25th at 06:00 in the organisation's time zone by default); and the e-mail outbox's sweep every
five minutes (messages whose delivery task was lost are sent by it)."""

from django.conf import settings
from django.db import migrations

from clients.roles import grant_declared

NAME = "Build next month's billing drafts"
SWEEP = "Invoices: e-mail outbox sweep"


def forwards(apps, schema_editor):
    grant_declared(apps, "invoices")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="6", day_of_week="*", day_of_month="25", month_of_year="*", timezone=settings.TIME_ZONE
    )
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "invoices.build_next_month_drafts",
            "crontab": crontab,
            "enabled": False,
            "description": "Builds draft invoices for every client for the coming month (never issues them). "
            "Skipped when a run for that month already exists. Turn on and pick the day here.",
        },
    )
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    every, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=SWEEP,
        defaults={
            "task": "invoices.sweep_outbox",
            "interval": every,
            "description": "Delivers invoice e-mails still waiting (a worker or the broker was away).",
        },
    )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[NAME, SWEEP]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0010_billing_run_chunks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
