"""Detection: reconciling the sources (devices, subscriptions) against billing (contract lines).

Set-based. Clients are taken in chunks (``CHUNK_SIZE``); for each chunk a fixed number of queries
reads the clients, what the sources show (``sources``), the contracts and lines in force
(``figures.billed``) and the existing opportunities, as tuples; what the opportunities should say
is worked out in memory (``figures``), and only the differences are written, in bulk
(``reconcile``: ``bulk_update`` / ``bulk_create``). A re-run with nothing changed writes nothing
but the run record. Identity of an opportunity: (client, kind, source_key) — see the model.
"""

import datetime as dt
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billingone.parallel import run_side_by_side, threads_for
from billingone.text import clip
from clients.dates import org_today
from clients.models import Client, Product

from ...models import DetectionRun, DetectionSettings
from ...signals import detection_finished
from ..rules import RuleBook
from .figures import billed, products_by_id, severity_for, wanted_figures
from .reconcile import FIGURE_FIELDS, ROW_FIELDS, reconcile, transition
from .sources import SourceCounts, count_devices, count_seats

__all__ = [
    "CHUNK_SIZE",
    "FIGURE_FIELDS",
    "ROW_FIELDS",
    "Totals",
    "request_detection_run",
    "run_detection",
    "run_detection_chunk",
    "severity_for",
    "start_detection_run",
    "transition",
]

CHUNK_SIZE = 500
ERROR_LENGTH = 2000
COUNTED = ("clients", "devices", "subscriptions", "lines", "created", "updated", "resolved", "unchanged")


@dataclass
class Totals:
    """What a run (or one chunk of it) examined and changed."""

    clients: int = 0
    devices: int = 0
    subscriptions: int = 0
    lines: int = 0
    created: int = 0
    updated: int = 0
    resolved: int = 0
    unchanged: int = 0
    created_ids: list = field(default_factory=list)
    reopened_ids: list = field(default_factory=list)

    def add(self, other: "Totals") -> None:
        """Fold a chunk's totals into the run's."""
        for name in COUNTED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.created_ids += other.created_ids
        self.reopened_ids += other.reopened_ids

    def count_fields(self) -> dict:
        """The run record's counters."""
        fields = {"created", "updated", "resolved", "unchanged"}
        return {(name if name in fields else f"{name}_examined"): getattr(self, name) for name in COUNTED}

    def as_json(self) -> dict:
        """What a chunk keeps in the database until the last chunk closes the run."""
        return {name: getattr(self, name) for name in (*COUNTED, "created_ids", "reopened_ids")}

    @classmethod
    def from_json(cls, data: dict) -> "Totals":
        return cls(**{name: data[name] for name in (*COUNTED, "created_ids", "reopened_ids") if name in data})


def run_detection(*, trigger: str, client_ids=None, actor=None, today: dt.date | None = None) -> DetectionRun:
    """Reconcile every client (or those in ``client_ids``) and record the run.

    Each chunk of clients commits on its own, so a huge run never holds one giant transaction; a
    chunk is safe to run twice. The run ends with the ``detection_finished`` signal (created and
    reopened opportunity ids).
    """
    started = time.monotonic()
    run = DetectionRun.objects.create(
        trigger=trigger, client_ids=sorted(set(client_ids)) if client_ids else None, triggered_by=actor
    )
    totals = Totals()
    try:
        context = chunk_context(run, today or org_today())
        chunks = client_chunks(client_ids)
        jobs = [(_run_chunk, (chunk, context)) for chunk in chunks]
        for chunk_totals in run_side_by_side(jobs, threads=_threads(len(chunks))):
            totals.add(chunk_totals)
    except Exception as exc:
        DetectionRun.objects.filter(pk=run.pk).update(
            status=DetectionRun.Status.FAILED,
            error=clip(f"{type(exc).__name__}: {exc}", ERROR_LENGTH),
            finished_at=timezone.now(),
            duration_ms=_ms_since(started),
            **totals.count_fields(),
        )
        raise
    with transaction.atomic():
        close_run(run, totals, duration_ms=_ms_since(started))
    return run


def chunk_context(run: DetectionRun, today: dt.date) -> dict:
    """What every chunk of a run judges by: the rules, products and thresholds, and the date."""
    return {
        "run": run,
        "rules": RuleBook(),
        "products": products_by_id(Product.objects.all()),
        "thresholds": DetectionSettings.current(),
        "today": today,
    }


def close_run(run: DetectionRun, totals: Totals, *, duration_ms: int, error: str = "") -> None:
    """Record how the run ended (in the caller's transaction); a run that succeeded sends
    ``detection_finished`` with the opportunities it created and reopened."""
    for name, value in totals.count_fields().items():
        setattr(run, name, value)
    run.status = DetectionRun.Status.FAILED if error else DetectionRun.Status.SUCCEEDED
    run.error, run.finished_at, run.duration_ms = clip(error, ERROR_LENGTH), timezone.now(), duration_ms
    run.save()
    if not error:
        detection_finished.send(
            sender=DetectionRun, run=run, created_ids=totals.created_ids, reopened_ids=totals.reopened_ids
        )


def client_chunks(client_ids) -> list[list[int]]:
    ids_qs = Client.objects.order_by("pk").values_list("pk", flat=True)
    if client_ids:
        ids_qs = ids_qs.filter(pk__in=client_ids)
    all_ids = list(ids_qs)
    return [all_ids[start : start + CHUNK_SIZE] for start in range(0, len(all_ids), CHUNK_SIZE)]


def _threads(chunks: int) -> int:
    """Connections for a run: chunks are independent (each its own transaction over its own
    clients), so on PostgreSQL ``DETECTION_THREADS`` connections take them side by side."""
    return threads_for(getattr(settings, "DETECTION_THREADS", 2), jobs=chunks) if chunks >= 2 else 1


def _run_chunk(chunk, context) -> Totals:
    totals = Totals()
    with transaction.atomic():
        detect_chunk(chunk, totals=totals, **context)
    return totals


def detect_chunk(chunk, *, run, rules, products, thresholds, today, totals) -> None:
    # The chunk's clients, locked in pk order: two runs over the same clients take turns.
    clients = dict(Client.objects.select_for_update().filter(pk__in=chunk).order_by("pk").values_list("pk", "name"))
    totals.clients += len(clients)
    ids = list(clients)
    counts = SourceCounts()
    count_devices(ids, rules, counts, totals)
    count_seats(ids, rules, counts, totals)
    contracts, lines = billed(ids, today, totals)
    wanted = wanted_figures(clients, counts, contracts, lines, rules=rules, products=products, thresholds=thresholds)
    reconcile(ids, wanted, run=run, today=today, totals=totals)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


from .fanout import request_detection_run, run_detection_chunk, start_detection_run  # noqa: E402
