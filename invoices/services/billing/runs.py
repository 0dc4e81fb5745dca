"""Billing runs: build a month's drafts in chunks of clients (any worker takes a chunk), rebuild or
cancel them. Issuing is in ``issue``.

Chunks are rows (``BillingRunChunk``): a chunk task locks its row and runs only while it waits, so a
redelivered task changes nothing; the last chunk to finish closes the step. No chord, no result
backend: the database keeps the books.
"""

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from billingone.background import queue_on_commit, require_broker
from billingone.parallel import run_side_by_side, threads_for
from billingone.text import clip
from clients.dates import org_today
from clients.models import Client

from ... import selectors
from ...models import (
    BillingProfile,
    BillingRun,
    BillingRunChunk,
    BillingRunScope,
    BillingRunStatus,
    DraftInvoice,
    DraftLine,
)
from . import plain
from .compute import billing_calendar, compute_bills
from .periods import add_months, month_end, month_of

log = logging.getLogger(__name__)
Step = BillingRunChunk.Step
PAST_HORIZON_LISTED = 200  # differences past the horizon kept by name on the run (all are counted)


def scope_clients(run: BillingRun):
    """The clients a run bills: every client with a contract line, one class's, or those chosen."""
    clients = Client.objects.filter(contracts__lines__isnull=False).distinct()
    if run.scope == BillingRunScope.CLIENTS:
        clients = Client.objects.filter(pk__in=run.client_ids or [])
    elif run.scope == BillingRunScope.CUSTOMER_CLASS:
        in_class = Q(billing_profile__customer_class=run.customer_class_id)
        if run.customer_class and run.customer_class.is_default:
            in_class |= Q(billing_profile__isnull=True)
        clients = clients.filter(in_class)
    return clients.order_by("pk")


def _chunk_rows(run: BillingRun, step: str, ids: list[int], only: bool) -> list[BillingRunChunk]:
    size = settings.BILLING_CHUNK_CLIENTS
    return [
        BillingRunChunk(
            run=run,
            step=step,
            number=n,
            first_client_id=part[0],
            last_client_id=part[-1],
            client_ids=part if only else None,
        )
        for n, part in enumerate(ids[i : i + size] for i in range(0, len(ids), size))
    ]


def _validated(period_start, client_ids, customer_class) -> tuple[dt.date, str]:
    if not isinstance(period_start, dt.date):
        raise ValidationError({"period_start": "Choose the month to bill."})
    if client_ids is not None and customer_class is not None:
        raise ValidationError("Choose either clients or a customer class, not both.")
    if client_ids is not None and not client_ids:
        raise ValidationError({"client_ids": "Choose at least one client."})
    if client_ids is not None:
        return month_of(period_start), BillingRunScope.CLIENTS
    return month_of(period_start), BillingRunScope.CUSTOMER_CLASS if customer_class else BillingRunScope.ALL


def create_billing_run(*, period_start, client_ids=None, customer_class=None, actor=None) -> BillingRun:
    """Record a run for a month and split its clients into build chunks (nothing is built yet)."""
    month, scope = _validated(period_start, client_ids, customer_class)
    with transaction.atomic():
        run = BillingRun.objects.create(
            period_start=month,
            scope=scope,
            customer_class=customer_class,
            client_ids=sorted(set(client_ids)) if client_ids else None,
            created_by=actor,
        )
        _plan(run, Step.BUILD)
    return run


def _plan(run: BillingRun, step: str, ids=None, *, only: bool = False) -> None:
    """Split the step's clients into chunks (``only``: exactly these clients, not their id range)."""
    if ids is None:
        ids = list(scope_clients(run).values_list("pk", flat=True))
    if step == Step.BUILD:
        # What a later rebuild compares with: the calendar used and when the inputs were read.
        calendar = billing_calendar(run.period_start)
        run.summary["calendar"] = [calendar.go_live.isoformat(), calendar.horizon.isoformat()]
        run.summary["inputs_as_of"] = timezone.now().isoformat()
        BillingRun.objects.filter(pk=run.pk).update(summary=run.summary)
    run.chunks.filter(step=step).delete()
    chunks = BillingRunChunk.objects.bulk_create(_chunk_rows(run, step, ids, only))
    BillingRun.objects.filter(pk=run.pk).update(chunks_total=len(chunks), chunks_done=0)
    run.chunks_total, run.chunks_done = len(chunks), 0


def start_billing_run(*, period_start, client_ids=None, customer_class=None, actor=None) -> BillingRun:
    """Build a month's drafts now, in this process (the command and tests; the console queues)."""
    run = create_billing_run(
        period_start=period_start, client_ids=client_ids, customer_class=customer_class, actor=actor
    )
    run_chunks(run, Step.BUILD)
    run.refresh_from_db()
    return run


def request_billing_run(*, period_start, client_ids=None, customer_class=None, actor=None) -> BillingRun:
    """The console's "Build drafts": refused at once while no worker can be reached; otherwise the
    run shows as building from this moment and its chunks are queued."""
    require_broker()
    run = create_billing_run(
        period_start=period_start, client_ids=client_ids, customer_class=customer_class, actor=actor
    )
    queue_chunks(run, Step.BUILD)
    return run


def queue_chunks(run: BillingRun, step: str) -> None:
    """Queue one task per chunk of the step once the transaction commits (or close an empty step)."""
    from ... import tasks

    numbers = list(run.chunks.filter(step=step).values_list("number", flat=True))
    if not numbers:
        finish_step(run.pk, step)
        return
    pk = run.pk

    def not_queued(message):
        BillingRun.objects.filter(pk=pk).update(status=BillingRunStatus.FAILED, error=clip(message, 500))

    for number in numbers:
        queue_on_commit(tasks.run_billing_chunk, pk, step, number, on_failure=not_queued)


def run_chunks(run: BillingRun, step: str) -> None:
    """Run every chunk of the step in this process (the command, tests, benchmarks), on
    ``BILLING_THREADS`` connections side by side on PostgreSQL."""
    numbers = list(run.chunks.filter(step=step).values_list("number", flat=True))
    if not numbers:
        finish_step(run.pk, step)
    jobs = [(run_chunk_job, (run.pk, step, number)) for number in numbers]
    run_side_by_side(jobs, threads=threads_for(settings.BILLING_THREADS, jobs=len(jobs)))


def run_chunk_job(run_id: int, step: str, number: int) -> None:
    run_chunk(run_id=run_id, step=step, number=number)


def run_chunk(*, run_id: int, step: str, number: int) -> BillingRunChunk | None:
    """One chunk of one step, once however often it is delivered; the last chunk closes the step.
    A chunk that fails (other than a lost connection, which the task retries) fails its run with
    the reason, so the run page says so instead of building for ever; a failed run can be rebuilt."""
    try:
        chunk, ran = _run_chunk(run_id, step, number)
    except OperationalError:
        raise
    except Exception as exc:
        log.exception("billing run %s: %s chunk %s failed", run_id, step, number)
        BillingRunChunk.objects.filter(run_id=run_id, step=step, number=number).update(
            status=BillingRunChunk.Status.FAILED, error=clip(str(exc) or type(exc).__name__, 500)
        )
        BillingRun.objects.filter(pk=run_id, status__in=[BillingRunStatus.BUILDING, BillingRunStatus.ISSUING]).update(
            status=BillingRunStatus.FAILED,
            error=clip(f"Part {number + 1} of the {step} step failed: {exc}. Rebuild the run to try again.", 500),
        )
        raise
    if ran:
        _count_done(run_id, step)
    return chunk


@transaction.atomic
def _run_chunk(run_id: int, step: str, number: int) -> tuple[BillingRunChunk | None, bool]:
    from .issue import issue_chunk

    chunk = (
        BillingRunChunk.objects.select_for_update()
        .select_related("run")
        .filter(run_id=run_id, step=step, number=number)
        .first()
    )
    if chunk is None or chunk.status != BillingRunChunk.Status.WAITING:
        return chunk, False  # delivered again: done already
    expected = BillingRunStatus.BUILDING if step == Step.BUILD else BillingRunStatus.ISSUING
    if chunk.run.status != expected:  # cancelled (or failed) meanwhile
        return chunk, False
    (build_chunk if step == Step.BUILD else issue_chunk)(chunk)
    chunk.status, chunk.done_at = BillingRunChunk.Status.DONE, timezone.now()
    chunk.save(update_fields=["status", "done_at"])
    return chunk, True


def _count_done(run_id: int, step: str) -> None:
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().get(pk=run_id)
        done = run.chunks.filter(step=step, status=BillingRunChunk.Status.DONE).count()
        BillingRun.objects.filter(pk=run_id).update(chunks_done=done, heartbeat_at=timezone.now())
        if done == run.chunks_total:
            finish_step(run_id, step)


def build_chunk(chunk: BillingRunChunk) -> None:
    """Compute and store the drafts of a chunk's clients (replacing any it built before)."""
    run = chunk.run
    clients = scope_clients(run)
    if chunk.client_ids is not None:
        clients, replaced = clients.filter(pk__in=chunk.client_ids), chunk.client_ids
    else:
        clients = clients.filter(pk__gte=chunk.first_client_id, pk__lte=chunk.last_client_id)
        replaced = None
    ids = list(clients.values_list("pk", flat=True))
    calendar = billing_calendar(run.period_start)
    settled = plain.settled_clients(ids, calendar)  # already billed for this month: nothing to draft
    bills = compute_bills([pk for pk in ids if pk not in settled], calendar)
    if replaced is None:
        earlier = DraftInvoice.objects.filter(
            run=run, client_id__gte=chunk.first_client_id, client_id__lte=chunk.last_client_id
        )
    else:
        earlier = DraftInvoice.objects.filter(run=run, client_id__in=replaced)
    if earlier.exists():  # a rebuild: this chunk's drafts replaced (a first build has none to collect)
        earlier.delete()
    store_drafts(run, [bill for bill in bills.values() if bill.lines])
    plain.write_plain_drafts(run, sorted(pk for pk, month in settled.items() if month < run.period_start), calendar)
    past = [(c, line, m.isoformat(), str(d)) for c, b in bills.items() for line, m, d in b.past_horizon]
    _note_past_horizon(run.pk, replaced if replaced is not None else ids, past)


def _note_past_horizon(run_id: int, rebuilt: list[int], past: list) -> None:
    """The run's list of differences past the horizon, with those of the rebuilt clients replaced."""
    run = BillingRun.objects.select_for_update().get(pk=run_id)
    gone = {str(pk) for pk in rebuilt}
    counts = {c: n for c, n in run.summary.get("past_horizon_clients", {}).items() if c not in gone}
    if not past and len(counts) == len(run.summary.get("past_horizon_clients", {})):
        return
    for client_id, *_rest in past:
        counts[str(client_id)] = counts.get(str(client_id), 0) + 1
    listed = [entry for entry in run.summary.get("past_horizon", []) if str(entry[0]) not in gone]
    run.summary["past_horizon"] = (listed + past)[:PAST_HORIZON_LISTED]
    run.summary["past_horizon_clients"] = counts
    run.summary["past_horizon_count"] = sum(counts.values())
    run.save(update_fields=["summary"])


def store_drafts(run: BillingRun, bills) -> list[DraftInvoice]:
    """Drafts and their lines for these bills (ordinary lines first, then corrections by month)."""
    no_email = set(
        BillingProfile.objects.filter(client_id__in=[b.client_id for b in bills])
        .exclude(billing_email="")
        .values_list("client_id", flat=True)
    )
    drafts = DraftInvoice.objects.bulk_create(
        DraftInvoice(
            run=run,
            client_id=bill.client_id,
            period_start=run.period_start,
            period_end=month_end(run.period_start),
            total=bill.total,
            no_email=bill.client_id not in no_email,
        )
        for bill in bills
    )
    DraftLine.objects.bulk_create(
        (
            DraftLine(draft=draft, **draft_line_fields(line))
            for draft, bill in zip(drafts, bills, strict=True)
            for line in ordered(bill.lines)
        ),
        batch_size=5000,
    )
    return drafts


def ordered(lines):
    return sorted(lines, key=lambda line: (line.adjustment, line.period, line.description))


def draft_line_fields(line) -> dict:
    """A rule line as the fields a draft or invoice line stores."""
    return {
        "description": clip(line.description, 300),
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "amount": line.amount,
        "contract_line_id": line.line_id,
        "period": line.period,
        "service_start": line.service_start,
        "service_end": line.service_end,
        "days": line.days,
        "days_in_month": line.days_in_month,
        "adjustment": line.adjustment,
    }


def finish_step(run_id: int, step: str) -> None:
    """Close a step when its last chunk is done: counts and totals, and the run's next status."""
    drafts = DraftInvoice.objects.filter(run_id=run_id)
    figures = drafts.aggregate(
        n=Count("id"),
        sum_total=Sum("total"),
        stale=Count("id", filter=Q(stale=True)),
        issued=Count("id", filter=Q(invoice__isnull=False)),
        sum_issued=Sum("total", filter=Q(invoice__isnull=False)),
    )
    now = timezone.now()
    updates = {
        "drafts_count": figures["n"],
        "drafts_total": figures["sum_total"] or 0,
        "stale_count": figures["stale"],
        "issued_count": figures["issued"],
        "issued_total": figures["sum_issued"] or 0,
    }
    if step == Step.BUILD:
        plain.refresh_statistics()  # the issue's checks read the drafts just written
        BillingRun.objects.filter(pk=run_id, status=BillingRunStatus.BUILDING).update(
            status=BillingRunStatus.DRAFT, built_at=now, **updates
        )
    else:
        BillingRun.objects.filter(pk=run_id, status=BillingRunStatus.ISSUING).update(
            status=BillingRunStatus.ISSUED, issued_at=now, **updates
        )


def rebuild_billing_run(run: BillingRun, *, actor=None, queue: bool = False) -> BillingRun:
    """Build a draft (or failed) run's drafts again from the contracts as they are now."""
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().get(pk=run.pk)
        if run.status not in (BillingRunStatus.DRAFT, BillingRunStatus.FAILED):
            raise ValidationError(f"This run is {run.get_status_display().lower()}: only drafts can be rebuilt.")
        if queue:
            require_broker()
        changed = _changed_clients(run) if run.status == BillingRunStatus.DRAFT else None
        run.status, run.error = BillingRunStatus.BUILDING, ""
        if changed is None:
            run.summary = {}
            run.drafts.all().delete()
        run.save(update_fields=["status", "error", "summary"])
        _plan(run, Step.BUILD, None if changed is None else sorted(changed), only=changed is not None)
        if queue:
            queue_chunks(run, Step.BUILD)
    if not queue:
        run_chunks(run, Step.BUILD)
    run.refresh_from_db()
    return run


def _changed_clients(run: BillingRun) -> set[int] | None:
    """The clients whose drafts a rebuild must compute again: stale ones, and those whose contracts,
    billing profile or issued invoices changed since the drafts were built. None: build everything
    again (the calendar moved, say). Issuing re-checks every draft anyway, so a change this misses
    still never reaches an invoice: that draft is marked stale."""
    as_of, calendar = run.summary.get("inputs_as_of"), billing_calendar(run.period_start)
    if as_of is None or run.summary.get("calendar") != [calendar.go_live.isoformat(), calendar.horizon.isoformat()]:
        return None
    changed = selectors.clients_changed_since(dt.datetime.fromisoformat(as_of))
    changed |= set(run.drafts.filter(stale=True).values_list("client_id", flat=True))
    if run.scope == BillingRunScope.CLIENTS:
        changed &= set(run.client_ids or [])
    return changed


@transaction.atomic
def cancel_billing_run(run: BillingRun, *, actor=None) -> BillingRun:
    """Cancel a run that has not issued anything: its drafts are discarded (they never were money)."""
    run = BillingRun.objects.select_for_update().get(pk=run.pk)
    if run.status not in (BillingRunStatus.BUILDING, BillingRunStatus.DRAFT, BillingRunStatus.FAILED):
        raise ValidationError(f"This run is {run.get_status_display().lower()}: it can no longer be cancelled.")
    run.drafts.all().delete()
    run.status, run.cancelled_by, run.cancelled_at = BillingRunStatus.CANCELLED, actor, timezone.now()
    run.drafts_count, run.drafts_total, run.stale_count = 0, 0, 0
    run.save()
    return run


def build_next_month_drafts() -> BillingRun | None:
    """Build the drafts for the coming month, unless a run for it is already building, drafted or
    issued (the beat job may fire twice)."""
    month = add_months(month_of(org_today()), 1)
    live = [BillingRunStatus.BUILDING, BillingRunStatus.DRAFT, BillingRunStatus.ISSUING, BillingRunStatus.ISSUED]
    if BillingRun.objects.filter(period_start=month, scope=BillingRunScope.ALL, status__in=live).exists():
        return None
    run = create_billing_run(period_start=month)
    queue_chunks(run, Step.BUILD)
    return run
