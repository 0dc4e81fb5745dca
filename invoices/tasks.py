"""Nightly invoice jobs: thin Celery tasks that fan out one task per chunk of clients."""

import datetime as dt

from celery import group, shared_task
from django.db import OperationalError

from clients.dates import org_today

from . import services

CHUNK_CLIENTS = services.CHUNK_CLIENTS


def _as_of(value):
    return dt.date.fromisoformat(value) if value else org_today()


@shared_task(name="invoices.recalculate_statuses")
def recalculate_statuses(as_of=None, chunk_size=CHUNK_CLIENTS):
    """Split the clients into chunks and queue one recalculation per chunk (any worker may take one)."""
    as_of = _as_of(as_of).isoformat()
    chunks = services.client_chunks(chunk_size)
    group(recalculate_chunk.s(as_of, lo, hi) for lo, hi in chunks).apply_async()
    return len(chunks)


@shared_task(name="invoices.recalculate_chunk", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def recalculate_chunk(as_of, lo, hi):
    counts = services.recalculate_chunk(as_of=_as_of(as_of), client_range=(lo, hi))
    return {"changed": sum(counts.values()), **counts}


@shared_task(name="invoices.run_collections")
def run_collections(as_of=None, chunk_size=CHUNK_CLIENTS):
    as_of = _as_of(as_of).isoformat()
    chunks = services.client_chunks(chunk_size)
    group(run_collections_chunk.s(as_of, lo, hi) for lo, hi in chunks).apply_async()
    return len(chunks)


@shared_task(
    name="invoices.run_collections_chunk", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5
)
def run_collections_chunk(as_of, lo, hi):
    return services.run_collections(as_of=_as_of(as_of), client_range=(lo, hi))


@shared_task(name="invoices.run_billing_chunk", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def run_billing_chunk(run_id, step, number):
    """One chunk of a billing run's build or issue step (once, however often it is delivered)."""
    chunk = services.run_billing_chunk(run_id=run_id, step=step, number=number)
    return {"run": run_id, "step": step, "number": number, "status": chunk.status if chunk else None}


@shared_task(name="invoices.build_next_month_drafts")
def build_next_month_drafts():
    """The beat schedule's monthly job: build the drafts for the coming month (issue stays manual)."""
    run = services.build_next_month_drafts()
    return {"run": run.pk if run else None}


# The e-mail outbox: each message is sent once, whatever is retried or delivered twice.
DELIVERY_RETRIES = 5


@shared_task(name="invoices.deliver_invoice_messages")
def deliver_invoice_messages(message_ids):
    """Send a batch of waiting invoice e-mails; one that fails is retried on its own, with backoff."""
    from .models import MessageStatus

    outcome = {}
    for message_id in message_ids:
        message = services.deliver_message(message_id)
        status = message.status if message is not None else "busy"
        if status == MessageStatus.PENDING:
            deliver_invoice_message.apply_async((message_id,), countdown=60)
        outcome[status] = outcome.get(status, 0) + 1
    return outcome


@shared_task(name="invoices.deliver_invoice_message", bind=True, max_retries=DELIVERY_RETRIES)
def deliver_invoice_message(self, message_id):
    """Send one waiting invoice e-mail; while it is still waiting after a failed try, try again later
    (2, 4, 8… minutes; after the last retry the sweep takes it)."""
    from .models import MessageStatus

    message = services.deliver_message(message_id)
    status = message.status if message is not None else "busy"
    if status == MessageStatus.PENDING and self.request.retries < DELIVERY_RETRIES:
        raise self.retry(countdown=120 * 2**self.request.retries)
    return status


@shared_task(name="invoices.sweep_outbox")
def sweep_outbox():
    """Every few minutes: queue the waiting e-mails whose own task was lost (the broker was down at
    commit) or gave up; delivery sends each once."""
    ids = services.messages_to_sweep()
    for start in range(0, len(ids), services.OUTBOX_BATCH):
        deliver_invoice_messages.delay(ids[start : start + services.OUTBOX_BATCH])
    return len(ids)
