"""Celery tasks for missed billing: thin wrappers that take ids and call a service (imported
inside each task, so that services may import these tasks at module top)."""

from celery import shared_task
from django.contrib.auth import get_user_model

from .models import DetectionRun, SourceImport


@shared_task(name="opportunities.detect_nightly")
def detect_nightly():
    """The nightly reconciliation of every client (beat: 'Missed billing: nightly detection'), after
    dropping the tables of import previews nobody committed: one ``detect_chunk`` task per chunk
    of clients, for whichever workers are up."""
    from .services.detection import start_detection_run
    from .services.imports import drop_stale_previews

    drop_stale_previews()
    return start_detection_run(trigger=DetectionRun.Trigger.NIGHTLY).pk


@shared_task(name="opportunities.detect_chunk")
def detect_chunk(run_id, number):
    """One chunk of clients of a shared run; the last chunk to finish closes the run."""
    from .services.detection import run_detection_chunk

    chunk = run_detection_chunk(run_id=run_id, number=number)
    return chunk.status if chunk else None


@shared_task(name="opportunities.detect_clients")
def detect_clients(client_ids, import_id=None, user_id=None):
    """Reconcile some clients: those an import touched, or an Admin's on-demand run."""
    from .services.detection import run_detection

    trigger = DetectionRun.Trigger.IMPORT if import_id else DetectionRun.Trigger.MANUAL
    actor = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    run = run_detection(trigger=trigger, client_ids=client_ids or None, actor=actor)
    if import_id:
        SourceImport.objects.filter(pk=import_id).update(detection_run=run)
    return run.pk


@shared_task(name="opportunities.detect_all")
def detect_all(user_id=None):
    """A run over every client, shared by the workers (the console starts one directly)."""
    from .services.detection import start_detection_run

    actor = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    return start_detection_run(trigger=DetectionRun.Trigger.MANUAL, actor=actor).pk


@shared_task(name="opportunities.process_import")
def process_import(import_id, step, user_id=None):
    """Check ("validate") or commit ("commit") a large import in the background."""
    from .services import imports

    imp = SourceImport.objects.filter(pk=import_id).first()
    if imp is None:
        return None
    actor = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    if step == "commit":
        imports.commit_import(imp=imp, actor=actor)
    else:
        imports.validate_import(imp=imp)
    return imp.status


@shared_task(name="opportunities.run_bulk_apply")
def run_bulk_apply(bulk_id: int) -> dict:
    from .models import BulkApply
    from .selectors import bulk_progress
    from .services.bulk import run_bulk

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
