"""Project-wide Celery tasks."""

from celery import shared_task
from django.db import connection
from django.utils import timezone


@shared_task(name="billingone.health_check")
def health_check():
    """Prove a worker is alive and can reach the database; returns what it saw."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (db_ok,) = cursor.fetchone()
    return {"ok": db_ok == 1, "checked_at": timezone.now().isoformat(), "database": connection.vendor}
