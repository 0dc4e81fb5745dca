"""Issuing a run's drafts: per chunk of clients, under their row locks (in pk order), each draft is
computed afresh; one that no longer matches (a contract changed, another run billed it meanwhile) is
marked stale and skipped, never issued as it stood. The rest take consecutive numbers from the
sequence and are issued through the same path as any invoice (carry-over, allocation, statuses)."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billingone.background import require_broker
from clients.dates import org_today
from clients.models import Client

from ...models import BillingRun, BillingRunChunk, BillingRunStatus, DraftInvoice, DraftLine
from ..issuing import Built, issue_many
from ..numbering import take_numbers
from . import plain
from .compute import billing_calendar, compute_bills
from .runs import _plan, draft_line_fields, ordered, queue_chunks, run_chunks

Step = BillingRunChunk.Step
STALE_CHANGED = "The contracts changed since this draft was built: rebuild the run."
STALE_BILLED = "Another run has billed this client for these months since: rebuild the run."


def issue_billing_run(
    run: BillingRun, *, issued_on: dt.date | None = None, actor=None, queue: bool = False
) -> BillingRun:
    """Number and issue every current draft of a run (statuses at once); stale drafts are skipped."""
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().get(pk=run.pk)
        if run.status != BillingRunStatus.DRAFT:
            raise ValidationError(f"This run is {run.get_status_display().lower()}: only drafts can be issued.")
        if queue:
            require_broker()
        run.status = BillingRunStatus.ISSUING
        run.issued_on = issued_on or org_today()
        run.issued_by = actor
        run.save(update_fields=["status", "issued_on", "issued_by"])
        ids = list(
            run.drafts.filter(stale=False, invoice__isnull=True)
            .order_by("client_id")
            .values_list("client_id", flat=True)
        )
        _plan(run, Step.ISSUE, ids)
        if queue:
            queue_chunks(run, Step.ISSUE)
    if not queue:
        run_chunks(run, Step.ISSUE)
    run.refresh_from_db()
    return run


def _fresh_key(lines) -> list[tuple]:
    return [tuple(draft_line_fields(line)[name] for name in plain.LINE_KEY) for line in ordered(lines)]


def issue_chunk(chunk: BillingRunChunk) -> list[int]:
    """Issue the drafts of a chunk's clients (called inside the chunk's transaction): settled
    clients are checked against their plain month in one statement, the others through the rule."""
    run = chunk.run
    drafts = list(
        DraftInvoice.objects.filter(
            run=run,
            stale=False,
            invoice__isnull=True,
            client_id__gte=chunk.first_client_id,
            client_id__lte=chunk.last_client_id,
        )
        .only("pk", "client_id", "total", "period_start", "period_end")
        .order_by("client_id")
    )
    locked = Client.objects.select_for_update().filter(pk__in=[d.client_id for d in drafts]).only("pk")
    clients = {c.pk: c for c in locked.order_by("pk")}
    calendar = billing_calendar(run.period_start)
    settled = plain.settled_clients(list(clients), calendar)
    for draft in drafts:
        if settled.get(draft.client_id) == run.period_start:
            _stale(draft, STALE_BILLED)
    drafts = [draft for draft in drafts if settled.get(draft.client_id) != run.period_start]
    issuable = _settled_issuable(run, [d for d in drafts if d.client_id in settled], calendar)
    issuable += _checked_by_rule(run, [d for d in drafts if d.client_id not in settled], calendar)
    issuable.sort(key=lambda draft: draft.client_id)
    numbers = take_numbers(len(issuable), issued_on=run.issued_on)
    built = [
        Built(
            clients[draft.client_id],
            [],
            number,
            position,
            draft.period_start,
            draft.period_end,
            total=draft.total,
        )
        for draft, (number, position) in zip(issuable, numbers, strict=True)
    ]

    def write_lines(invoices):
        plain.link_drafts((draft.pk, invoice.pk) for draft, invoice in zip(issuable, invoices, strict=True))
        plain.copy_draft_lines([draft.pk for draft in issuable])

    invoices = issue_many(built, issued_on=run.issued_on, billing_run=run, write_lines=write_lines, refetch=False)
    issued = [invoice.pk for invoice in invoices]
    BillingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    after_issue(issued)
    return issued


def _settled_issuable(run, drafts, calendar) -> list[DraftInvoice]:
    differing = plain.differing_drafts(run, [draft.client_id for draft in drafts], calendar)
    for draft in drafts:
        if draft.client_id in differing:
            _stale(draft, STALE_CHANGED)
    return [draft for draft in drafts if draft.client_id not in differing]


def _checked_by_rule(run, drafts, calendar) -> list[DraftInvoice]:
    """Drafts issued only when the rule, run afresh, asks for exactly their lines."""
    fresh = compute_bills([draft.client_id for draft in drafts], calendar)
    held: dict[int, list] = {}
    for line in DraftLine.objects.filter(draft__in=[draft.pk for draft in drafts]).order_by("draft_id", "id"):
        held.setdefault(line.draft_id, []).append(tuple(getattr(line, name) for name in plain.LINE_KEY))
    issuable = []
    for draft in drafts:
        bill = fresh.get(draft.client_id)
        if bill is None or not bill.lines:
            _stale(draft, STALE_BILLED)
        elif _fresh_key(bill.lines) != held.get(draft.pk, []):
            _stale(draft, STALE_CHANGED)
        else:
            issuable.append(draft)
    return issuable


def _stale(draft: DraftInvoice, reason: str) -> None:
    draft.stale, draft.stale_reason = True, reason
    draft.save(update_fields=["stale", "stale_reason"])


def after_issue(invoice_ids: list[int]) -> None:
    """What follows issuing: each invoice's PDF and e-mail (queued once the transaction commits)."""
    if not invoice_ids:
        return
    from ..email import queue_invoice_messages

    queue_invoice_messages(invoice_ids)
