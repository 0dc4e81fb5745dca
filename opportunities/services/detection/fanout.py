"""A detection run shared by workers: each chunk of clients is a Celery task of its own, so several
workers (on several machines) take the nightly run between them.

The run and its chunks are rows: a chunk task locks its row, runs only if it is still waiting (a
redelivered task finds it done), and keeps what it found on the row; the last chunk to finish
closes the run (counts, duration, ``detection_finished``). No chord and no result backend: the
database is the bookkeeping, so ``make run``'s file-system broker is enough.
"""

import datetime as dt

from celery import group
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from billingone.background import queue_on_commit, require_broker
from billingone.text import clip
from clients.dates import org_today
from clients.models import Client

from ...models import DetectionChunk, DetectionRun
from ...tasks import detect_chunk as detect_chunk_task
from . import ERROR_LENGTH, Totals, chunk_context, client_chunks, close_run, detect_chunk


def request_detection_run(*, actor=None) -> DetectionRun:
    """An Admin's "run detection now" over every client: refused at once (nothing recorded) while
    no worker can be reached; otherwise the run is listed as running from this moment."""
    require_broker()
    return start_detection_run(trigger=DetectionRun.Trigger.MANUAL, actor=actor)


def start_detection_run(*, trigger: str, client_ids=None, actor=None, today: dt.date | None = None) -> DetectionRun:
    """Record a run and its chunks, and queue one task per chunk once this transaction commits."""
    chunks = client_chunks(client_ids)
    with transaction.atomic():
        run = DetectionRun.objects.create(
            trigger=trigger,
            client_ids=sorted(set(client_ids)) if client_ids else None,
            triggered_by=actor,
            as_of=today or org_today(),
            chunks_total=len(chunks),
        )
        DetectionChunk.objects.bulk_create(
            DetectionChunk(run=run, number=n, first_client_id=ids[0], last_client_id=ids[-1])
            for n, ids in enumerate(chunks)
        )
        if not chunks:
            close_run(run, Totals(), duration_ms=0)
            return run
        pk = run.pk

        def not_queued(message):
            DetectionRun.objects.filter(pk=pk, status=DetectionRun.Status.RUNNING).update(
                status=DetectionRun.Status.FAILED,
                error=clip(f"Not started: {message}", ERROR_LENGTH),
                finished_at=timezone.now(),
            )

        tasks = group(detect_chunk_task.si(pk, n) for n in range(len(chunks)))
        queue_on_commit(tasks, on_failure=not_queued)
    return run


def run_detection_chunk(*, run_id: int, number: int) -> DetectionChunk | None:
    """Run one chunk of a shared run (once, however often it is delivered); the last one closes the run."""
    with transaction.atomic():
        chunk = DetectionChunk.objects.select_for_update().select_related("run").filter(run_id=run_id, number=number)
        chunk = chunk.first()
        if chunk is None or chunk.status != DetectionChunk.Status.PENDING:
            return chunk
        run = chunk.run
        ids = Client.objects.filter(pk__gte=chunk.first_client_id, pk__lte=chunk.last_client_id)
        if run.client_ids:
            ids = ids.filter(pk__in=run.client_ids)
        totals = Totals()
        try:
            with transaction.atomic():
                detect_chunk(list(ids.values_list("pk", flat=True)), totals=totals, **chunk_context(run, run.as_of))
        except Exception as exc:  # recorded on the chunk; the run ends as failed, naming it
            chunk.status, chunk.error = DetectionChunk.Status.FAILED, clip(f"{type(exc).__name__}: {exc}", ERROR_LENGTH)
        else:
            chunk.status, chunk.totals = DetectionChunk.Status.DONE, totals.as_json()
        chunk.finished_at = timezone.now()
        chunk.save(update_fields=["status", "totals", "error", "finished_at"])
    close_run_if_complete(run_id)
    return chunk


def close_run_if_complete(run_id: int) -> DetectionRun:
    """Close a shared run once no chunk is waiting; the run row's lock makes exactly one caller do it."""
    with transaction.atomic():
        run = DetectionRun.objects.select_for_update().get(pk=run_id)
        if run.status != DetectionRun.Status.RUNNING:
            return run
        left = run.chunks.aggregate(
            pending=Count("id", filter=Q(status=DetectionChunk.Status.PENDING)),
            failed=Count("id", filter=Q(status=DetectionChunk.Status.FAILED)),
        )
        if left["pending"]:
            return run
        totals = Totals()
        for data in run.chunks.filter(status=DetectionChunk.Status.DONE).values_list("totals", flat=True):
            totals.add(Totals.from_json(data))
        error = ""
        if left["failed"]:
            first = run.chunks.filter(status=DetectionChunk.Status.FAILED).order_by("number").first()
            error = f"{left['failed']} of {run.chunks_total} chunks failed; chunk {first.number}: {first.error}"
        duration = int((timezone.now() - run.started_at).total_seconds() * 1000)
        close_run(run, totals, duration_ms=duration, error=error)
    return run
