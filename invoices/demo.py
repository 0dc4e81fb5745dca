"""Demo data for invoices: customer classes with collection schedules, and a year of
invoices and payments for the demo clients covering every status.

Deterministic (fixed seed, fixed dates) and idempotent: invoices are keyed by
number, payments by (client, reference) -- the service returns the existing one.
Statuses are then evaluated as of the organisation's today.
"""

import datetime as dt
import random
from decimal import Decimal

from clients.dates import org_today
from clients.models import Client, ContractLine

from . import services
from .models import BillingRun, CollectionStep, CustomerClass, Invoice

CLASSES = [
    # name, terms, threshold, steps
    ("Standard", 30, "0.00", [(7, "resend"), (30, "limit"), (45, "suspend")]),
    ("Enterprise", 45, "0.00", [(14, "resend"), (45, "limit"), (75, "suspend"), (120, "terminate_commitments")]),
    ("Pay as you go", 14, "100.00", [(7, "resend"), (30, "limit")]),
]

MONTHS = 12


def _classes():
    made = {}
    for name, terms, threshold, steps in CLASSES:
        cls, _ = CustomerClass.objects.get_or_create(
            name=name, defaults={"payment_terms_days": terms, "collection_threshold": Decimal(threshold)}
        )
        for days, action in steps:
            CollectionStep.objects.get_or_create(customer_class=cls, days_overdue=days, action=action)
        made[name] = cls
    # Clients without a billing profile are billed with the default class.
    CustomerClass.objects.filter(name="Standard").update(is_default=True)
    return made


def _month_starts(today):
    first = today.replace(day=1)
    starts = []
    for back in range(MONTHS - 1, -1, -1):
        year, month = first.year, first.month - back
        while month <= 0:
            month += 12
            year -= 1
        starts.append(dt.date(year, month, 1))
    return starts


def _lines(client):
    lines = [
        (f"{line.product.name} ({line.contract.number})", line.quantity, line.unit_price)
        for line in ContractLine.objects.in_force()
        .filter(contract__client=client)
        .select_related("product", "contract")
    ]
    return lines or [("Managed services", 1, Decimal("250.00"))]


def _behaviour(index):
    """How each demo client pays; chosen so that every status appears."""
    return {
        3: "late",  # last three invoices unpaid: overdue, collections
        7: "partial",  # current invoice part paid
        11: "credit_note",  # a negative invoice while paid up: Do not pay
        15: "credit_while_owing",  # a zero invoice while an earlier one is open: Previous balance remaining
        19: "very_late",  # four months unpaid: overdue 90+, suspended
        22: "usage",  # small usage invoices below the threshold: No payment required, carry-over
        26: "late",
    }.get(index, "prompt")


def seed(stdout=None, today=None):
    today = today or org_today()
    rng = random.Random(5005)
    classes = _classes()
    clients = list(Client.objects.filter(psa_id__startswith="PSA-").order_by("psa_id"))
    months = _month_starts(today)
    for index, client in enumerate(clients, start=1):
        behaviour = _behaviour(index)
        cls = classes["Pay as you go" if behaviour == "usage" else ("Enterprise" if index % 5 == 0 else "Standard")]
        services.assign_customer_class(client, cls, billing_email=f"accounts{index}@client{index}.example")
        lines = _lines(client)
        for m, start in enumerate(months):
            number = f"INV-{client.psa_id.removeprefix('PSA-')}-{start:%Y%m}"
            if Invoice.objects.filter(number=number).exists():
                continue
            end = (months[m + 1] if m + 1 < len(months) else (start + dt.timedelta(days=32)).replace(day=1)) - (
                dt.timedelta(days=1)
            )
            these = lines
            if behaviour == "usage":
                these = [("Usage", 1, Decimal(rng.choice(["35.00", "42.50", "58.00", "64.00"])))]
            elif behaviour == "credit_note" and m == MONTHS - 4:
                these = [
                    ("Service credit: outage compensation", 1, -sum((q * p for _, q, p in lines), Decimal(0)) - 50)
                ]
            elif behaviour == "credit_while_owing" and m == MONTHS - 1:
                these = [("No billable usage this month", 1, Decimal("0.00"))]
            invoice = services.issue_invoice(
                client, issued_on=start, lines=these, period_start=start, period_end=end, number=number
            )
            _pay(client, invoice, behaviour, m, today, rng)
    services.recalculate_statuses(as_of=today)
    counts = services.run_collections(as_of=today)
    _next_month_drafts(today, stdout)
    if stdout:
        by_status = {}
        for status in Invoice.objects.values_list("status", flat=True):
            by_status[status] = by_status.get(status, 0) + 1
        stdout.write(
            f"invoices: {Invoice.objects.count()} invoices ({', '.join(f'{k} {v}' for k, v in sorted(by_status.items()))});"
            f" collections fired {counts['fired']} step(s)"
        )


def _pay(client, invoice, behaviour, m, today, rng):
    if invoice.total <= 0:
        return
    paid_on = invoice.issued_on + dt.timedelta(days=rng.randint(10, 25))
    if paid_on > today:
        if behaviour == "partial" and m == MONTHS - 1:
            paid_on = min(invoice.issued_on + dt.timedelta(days=5), today)
        else:
            return
    unpaid_from = {"late": MONTHS - 3, "very_late": MONTHS - 5, "credit_while_owing": MONTHS - 2}.get(behaviour)
    if unpaid_from is not None and m >= unpaid_from:
        return
    if behaviour == "usage" and m % 3 != 2:
        return  # pays only every third month: the other invoices carry over
    amount = invoice.amount_due
    if behaviour == "partial" and m == MONTHS - 1:
        amount = (invoice.amount_due / 3).quantize(Decimal("0.01"))
    services.record_payment(
        client, amount=amount, received_on=paid_on, reference=f"BACS {invoice.number}", method="bank_transfer"
    )


def _next_month_drafts(today, stdout=None):
    """Next month's billing run, built as drafts for Finance to review and issue (the history above
    is imported-style invoices, so billing starts after it)."""
    month = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    if BillingRun.objects.filter(period_start=month).exists():
        return
    run = services.start_billing_run(period_start=month)
    if stdout:
        stdout.write(f"billing: a draft run for {month:%b %Y} with {run.drafts_count} draft invoice(s)")
