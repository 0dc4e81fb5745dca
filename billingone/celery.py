"""The Celery application. Schedules live in the database (django-celery-beat)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billingone.settings")

app = Celery("billingone")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
