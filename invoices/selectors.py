"""Reads for the invoice pages, the client panel and Home: aggregates in the database."""

import datetime as dt
from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Abs, Coalesce, Greatest, Round

from clients.dates import org_today
from clients.models import ContractChange, ContractLine
from clients.money import ZERO

from .models import (
    ALLOCATION_ORDER,
    Allocation,
    BillingProfile,
    BillingRun,
    BillingRunScope,
    BillingRunStatus,
    CollectionAction,
    DraftInvoice,
    DraftLine,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
)

MONEY = DecimalField(max_digits=18, decimal_places=2)
OUTSTANDING = ExpressionWrapper(F("total") - F("amount_paid"), output_field=MONEY)

AGEING_BUCKETS = [
    ("current", "Current"),
    ("d1_30", "1–30"),
    ("d31_60", "31–60"),
    ("d61_90", "61–90"),
    ("d90_plus", "90+"),
]


# What is still to pay on an invoice's own total (never below zero; credits owe nothing).
OUTSTANDING_NOW = Greatest(OUTSTANDING, Value(ZERO), output_field=MONEY)


def invoice_list():
    """Invoices with their client name and what is outstanding on each (one query; heavy columns
    are not needed)."""
    return (
        Invoice.objects.select_related("client")
        .annotate(outstanding_now=OUTSTANDING_NOW)
        .only(
            "number",
            "client__name",
            "issued_on",
            "due_on",
            "total",
            "amount_paid",
            "status",
        )
    )


def _sum(q=None):
    return Coalesce(Sum(OUTSTANDING, filter=q), ZERO, output_field=MONEY)


def receivables(today: dt.date | None = None, client=None) -> dict:
    """Outstanding receivables by days past due, and the overdue total (one query)."""
    today = today or org_today()
    qs = Invoice.objects.filter(total__gt=0, amount_paid__lt=F("total"))
    if client is not None:
        qs = qs.filter(client=client)
    d = dt.timedelta
    payable = Q(below_threshold=False)
    figures = qs.aggregate(
        current=_sum(Q(due_on__gte=today) | Q(below_threshold=True)),
        d1_30=_sum(payable & Q(due_on__lt=today, due_on__gte=today - d(days=30))),
        d31_60=_sum(payable & Q(due_on__lt=today - d(days=30), due_on__gte=today - d(days=60))),
        d61_90=_sum(payable & Q(due_on__lt=today - d(days=60), due_on__gte=today - d(days=90))),
        d90_plus=_sum(payable & Q(due_on__lt=today - d(days=90))),
    )
    overdue = sum((figures[key] for key, _ in AGEING_BUCKETS[1:]), ZERO)
    total = overdue + figures["current"]
    top = max([figures[key] for key, _ in AGEING_BUCKETS] + [Decimal("0.01")])
    buckets = [
        {"key": key, "label": label, "amount": figures[key], "percent": int(figures[key] * 100 / top)}
        for key, label in AGEING_BUCKETS
    ]
    return {"overdue_total": overdue, "receivables_total": total, "ageing": buckets}


def home_summary() -> dict:
    """Context for the Home card: overdue total, ageing chart, overdue invoice count (two queries)."""
    summary = receivables()
    summary["overdue_count"] = Invoice.objects.filter(status=InvoiceStatus.OVERDUE).count()
    return {"receivables": summary}


def client_credit(client) -> Decimal:
    unallocated = Payment.objects.filter(client=client).aggregate(s=Coalesce(Sum("unallocated"), ZERO))["s"]
    credits = Invoice.objects.filter(client=client, total__lt=0).aggregate(
        s=Coalesce(Sum(ExpressionWrapper(-F("total") - F("credit_applied"), output_field=MONEY)), ZERO)
    )["s"]
    return unallocated + credits


def client_statement(client) -> list[dict]:
    """Invoices (debits) and payments (credits) in date order with a running balance (two queries)."""
    entries = [
        {"date": inv.issued_on, "kind": "invoice", "object": inv, "debit": inv.total, "credit": ZERO}
        for inv in Invoice.objects.filter(client=client).order_by(*ALLOCATION_ORDER)
    ]
    entries += [
        {"date": p.received_on, "kind": "payment", "object": p, "debit": ZERO, "credit": p.amount}
        for p in Payment.objects.filter(client=client).order_by("received_on", "id")
    ]
    entries.sort(key=lambda e: (e["date"], 0 if e["kind"] == "invoice" else 1, e["object"].pk))
    balance = ZERO
    for entry in entries:
        balance += entry["debit"] - entry["credit"]
        entry["balance"] = balance
    return entries


def client_panel_context(client) -> dict:
    statement = client_statement(client)
    balance = statement[-1]["balance"] if statement else ZERO
    return {
        "profile": BillingProfile.objects.filter(client=client).select_related("customer_class").first(),
        "balance": balance,
        "credit": client_credit(client),
        "ageing": receivables(client=client),
        "statement": statement,
        "collection_actions": CollectionAction.objects.filter(episode__client=client)
        .select_related("episode", "invoice")
        .order_by("-created_at", "-id")[:50],
    }


def invoice_page(pk: int) -> dict | None:
    """An invoice with everything its page shows, in a fixed number of queries (``None``: no such invoice)."""
    allocations = Allocation.objects.select_related("payment", "credit_invoice").order_by("id")
    invoice = (
        Invoice.objects.select_related("client", "settled_by")
        .prefetch_related("lines", Prefetch("allocations", queryset=allocations), "status_changes")
        .filter(pk=pk)
        .first()
    )
    if invoice is None:
        return None
    return {
        "invoice": invoice,
        "credit_allocations": list(invoice.credit_allocations.select_related("invoice").order_by("id")),
        "collection_actions": list(CollectionAction.objects.filter(invoice=invoice).order_by("-created_at", "-id")),
        "absorbed": list(invoice.absorbed.order_by(*ALLOCATION_ORDER)),
    }


# Billing runs: what the rule reads for a chunk of clients, each a single set-based query.


def billing_segments(client_ids) -> list[tuple]:
    """Every contract line segment of these clients, its dates cut to its contract's:
    (line id, client id, product name, quantity, unit price, start, end, billing timing)."""
    return list(
        ContractLine.objects.filter(contract__client_id__in=client_ids)
        .order_by("contract__client_id", "product__name", "id")
        .values_list(
            "pk",
            "contract__client_id",
            "product__name",
            "quantity",
            "unit_price",
            Greatest("start_date", "contract__start_date"),
            "end_date",
            "contract__end_date",
            "contract__billing_timing",
        )
    )


def billed_sums(client_ids, since: dt.date) -> dict[tuple[int, dt.date], Decimal]:
    """(contract line id, month) → the sum already issued for it by billing runs, from ``since``."""
    rows = (
        InvoiceLine.objects.filter(invoice__client_id__in=client_ids, contract_line__isnull=False, period__gte=since)
        .values_list("contract_line_id", "period")
        .annotate(billed=Sum("amount"))
        .order_by()
    )
    return {(line_id, period): billed for line_id, period, billed in rows}


def billed_lines(pairs) -> dict[tuple[int, dt.date], list[tuple]]:
    """For these (contract line, month) pairs, the issued lines in the order they were issued:
    (quantity, unit price, service start, service end, amount)."""
    found: dict[tuple[int, dt.date], list[tuple]] = {}
    if not pairs:
        return found
    line_ids = {line_id for line_id, _month in pairs}
    rows = (
        InvoiceLine.objects.filter(contract_line_id__in=line_ids, period__in={month for _l, month in pairs})
        .order_by("id")
        .values_list("contract_line_id", "period", "quantity", "unit_price", "service_start", "service_end", "amount")
    )
    for line_id, period, *rest in rows:
        if (line_id, period) in pairs:
            found.setdefault((line_id, period), []).append(tuple(rest))
    return found


def billing_start_inputs(client_ids) -> dict[int, dict]:
    """Per client: its billing profile's override, and the last day any invoice not from a billing
    run covered (imported or demo history is never billed again)."""
    inputs = {client_id: {"override": None, "history_end": None} for client_id in client_ids}
    for client_id, override in BillingProfile.objects.filter(
        client_id__in=client_ids, billing_start__isnull=False
    ).values_list("client_id", "billing_start"):
        inputs[client_id]["override"] = override
    history = (
        Invoice.objects.filter(client_id__in=client_ids, billing_run__isnull=True, period_end__isnull=False)
        .values_list("client_id")
        .annotate(last=Max("period_end"))
        .order_by()
    )
    for client_id, last in history:
        inputs[client_id]["history_end"] = last
    return inputs


def clients_changed_since(moment: dt.datetime) -> set[int]:
    """Clients whose billing inputs changed after ``moment``: a contract line written, a contract
    change recorded (every contract writer records one, removals included), the billing profile
    saved, or an invoice issued to them."""
    changed = set(ContractLine.objects.filter(updated_at__gt=moment).values_list("contract__client_id", flat=True))
    changed |= set(ContractChange.objects.filter(created_at__gt=moment).values_list("contract__client_id", flat=True))
    changed |= set(BillingProfile.objects.filter(updated_at__gt=moment).values_list("client_id", flat=True))
    changed |= set(Invoice.objects.filter(created_at__gt=moment).values_list("client_id", flat=True))
    return changed


def first_issued_run_month() -> dt.date | None:
    """The month of the first billing run ever issued (the go-live month when none is set)."""
    return BillingRun.objects.filter(status=BillingRunStatus.ISSUED).aggregate(m=Min("period_start"))["m"]


def latest_issued_run_month() -> dt.date | None:
    """The month of the latest billing run issued (Home's "invoiced so far" counts through it)."""
    return BillingRun.objects.filter(status=BillingRunStatus.ISSUED).aggregate(m=Max("period_start"))["m"]


def first_unbilled_month(client_id: int) -> dt.date | None:
    """The first day of the month after the latest period any issued invoice of the client covers
    (a billing run's or imported history); None when nothing was billed yet. What an apply's
    effective date defaults to (``clients.billing_calendar``)."""
    return first_unbilled_months([client_id]).get(client_id)


def first_unbilled_months(client_ids) -> dict[int, dt.date]:
    """``first_unbilled_month`` for many clients in one query (those billed so far only)."""
    rows = (
        Invoice.objects.filter(client_id__in=list(client_ids), period_end__isnull=False)
        .values_list("client_id")
        .annotate(last=Max("period_end"))
        .order_by()
    )
    return {pk: (last.replace(day=1) + dt.timedelta(days=32)).replace(day=1) for pk, last in rows}


# Billing run pages: the runs, a run with what changed since the month before, a draft.

LISTED = 20  # clients named in each list of a run's page (every one is counted)


def billing_run_list():
    """Runs, newest month first, with who started and issued them (one query a page)."""
    return (
        BillingRun.objects.select_related("created_by", "issued_by", "customer_class")
        .defer("summary")
        .order_by("-period_start", "-id")
    )


def billing_run(pk: int) -> BillingRun | None:
    return (
        BillingRun.objects.select_related("created_by", "issued_by", "cancelled_by", "customer_class")
        .filter(pk=pk)
        .first()
    )


def _drafts_with_clients(run):
    return (
        DraftInvoice.objects.filter(run=run)
        .select_related("client", "invoice")
        .only("run", "client", "client__name", "invoice", "invoice__number", "total", "stale", "stale_reason")
        .order_by("client__name", "id")
    )


def run_drafts(run):
    """A run's drafts by client name, each with its number of lines (and its invoice once issued)."""
    return _drafts_with_clients(run).annotate(lines_count=Count("lines"))


def run_to_issue(run) -> dict:
    """What "Issue all" issues: the drafts neither stale nor issued yet, counted and summed."""
    return run.drafts.filter(stale=False, invoice__isnull=True).aggregate(
        count=Count("id"), total=Coalesce(Sum("total"), ZERO, output_field=MONEY)
    )


def _previous_invoices(run):
    """The month before ``run``'s, and the invoices issued runs billed for it to clients in its scope."""
    from .services.billing.runs import scope_clients  # the scope rule lives with the runs

    before = (run.period_start - dt.timedelta(days=1)).replace(day=1)
    invoices = Invoice.objects.filter(billing_run__status=BillingRunStatus.ISSUED, billing_run__period_start=before)
    if run.scope != BillingRunScope.ALL:
        invoices = invoices.filter(client_id__in=scope_clients(run).values("pk"))
    return before, invoices


def run_changes(run) -> dict:
    """What changed since the month before, compared per client in the database: clients new and
    gone, invoices up or down by more than 10 %, adjustments and catch-ups, stale and unsent drafts."""
    before, previous = _previous_invoices(run)
    had = previous.filter(client_id=OuterRef("client_id")).values("client_id").annotate(s=Sum("total")).values("s")
    compared = {
        "before": Subquery(had[:1]),
        "change": F("total") - F("before"),
        # Ten times the change, to the cent, against the amount before: no division, so exactly 10 %
        # is "not more than" on every database (SQLite computes in binary floating point).
        "tenfold": Round(F("change") * 10, 2),
    }
    drafts = DraftInvoice.objects.filter(run=run).annotate(**compared)
    swing = Abs(F("before"))
    up, down = Q(before__isnull=False, tenfold__gt=swing), Q(before__isnull=False, tenfold__lt=-swing)
    counts = drafts.aggregate(
        new=Count("id", filter=Q(before__isnull=True)),
        up=Count("id", filter=up),
        down=Count("id", filter=down),
        stale=Count("id", filter=Q(stale=True)),
        not_sent=Count("id", filter=Q(no_email=True)),
    )
    changes = {
        "before": before,
        "compared": BillingRun.objects.filter(status=BillingRunStatus.ISSUED, period_start=before).exists(),
        "counts": counts,
        "adjustments": DraftLine.objects.filter(draft__run=run, adjustment=True).aggregate(
            count=Count("id"),
            clients=Count("draft_id", distinct=True),
            total=Coalesce(Sum("amount"), ZERO, output_field=MONEY),
        ),
    }
    listed = _drafts_with_clients(run).annotate(**compared)
    if changes["compared"]:
        gone = previous.exclude(client_id__in=DraftInvoice.objects.filter(run=run).values("client_id"))
        changes["gone_count"] = gone.values("client_id").distinct().count()
        changes["gone"] = list(
            gone.values("client_id", "client__name").annotate(total=Sum("total")).order_by("client__name")[:LISTED]
        )
        changes["new"] = list(listed.filter(before__isnull=True)[:LISTED])
        changes["up"] = list(listed.filter(up).order_by("-change", "id")[:LISTED])
        changes["down"] = list(listed.filter(down).order_by("change", "id")[:LISTED])
    changes["stale"] = list(listed.filter(stale=True)[:LISTED]) if counts["stale"] else []
    changes["not_sent"] = list(listed.filter(no_email=True)[:LISTED]) if counts["not_sent"] else []
    return changes


def past_horizon(run) -> dict:
    """The differences older than the horizon a run found (listed, never billed), named by client
    and product."""
    listed = run.summary.get("past_horizon", [])
    names = {}
    if listed:
        lines = ContractLine.objects.filter(pk__in={row[1] for row in listed})
        names = {
            pk: (client, product)
            for pk, client, product in lines.values_list("pk", "contract__client__name", "product__name")
        }
    rows = [
        {
            "client_id": client_id,
            "client": names.get(line_id, ("—", "—"))[0],
            "product": names.get(line_id, ("—", "—"))[1],
            "month": dt.date.fromisoformat(month),
            "difference": Decimal(difference),
        }
        for client_id, line_id, month, difference in listed
    ]
    return {"count": run.summary.get("past_horizon_count", len(rows)), "rows": rows}


def draft_page(pk: int) -> DraftInvoice | None:
    """A draft with its client, run, lines and (once issued) invoice, in two queries."""
    return (
        DraftInvoice.objects.select_related("client", "run", "invoice").prefetch_related("lines").filter(pk=pk).first()
    )
