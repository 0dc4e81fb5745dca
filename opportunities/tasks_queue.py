"""Celery tasks of the queue half: thin, take ids, call a service.

Registered by ``OpportunitiesConfig.ready()`` (Celery's autodiscovery only imports
``opportunities.tasks``).
"""

from celery import shared_task


@shared_task(name="opportunities.run_bulk_apply")
def run_bulk_apply(bulk_id: int) -> dict:
    from .models import BulkApply
    from .services.bulk import bulk_progress, run_bulk

    bulk = run_bulk(bulk_id=bulk_id)
    return bulk_progress(BulkApply.objects.get(pk=bulk.pk))


@shared_task(name="opportunities.expire_snoozes")
def expire_snoozes() -> int:
    from .services.actions import expire_snoozes as expire

    return expire()


@shared_task(name="opportunities.send_notification_emails")
def send_notification_emails() -> int:
    from .services.notifications import send_pending_emails

    return send_pending_emails()
