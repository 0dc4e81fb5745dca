"""Reads for the invoice pages, the client panel and Home: aggregates in the database."""

import datetime as dt
from decimal import Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, Prefetch, Q, Sum, Value
from django.db.models.functions import Coalesce, Greatest

from clients.dates import org_today
from clients.money import ZERO

from .models import Allocation, BillingProfile, CollectionAction, Invoice, InvoiceStatus, Payment

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
        for inv in Invoice.objects.filter(client=client).order_by("issued_on", "number")
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
        "absorbed": list(invoice.absorbed.order_by("issued_on", "number")),
    }
