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
