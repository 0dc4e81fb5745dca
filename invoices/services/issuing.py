"""Issuing invoices and assigning a client's customer class (payment terms, threshold).

Every service that changes a client's money takes that client's row lock first (``lock_client``),
so payments, invoices and collection runs for one client are serialised while different clients
run in parallel."""

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery, Sum
from django.utils import timezone

from billingone import sql
from clients.dates import org_today
from clients.models import Client
from clients.money import ZERO, quantize

from ..models import (
    BillingProfile,
    CustomerClass,
    Invoice,
    InvoiceLine,
    InvoiceStatusChange,
    Payment,
    StatusChangeSource,
)
from .common import lock_client, parse_money
from .numbering import take_numbers
from .payments import allocate
from .statuses import apply_statuses

log = logging.getLogger(__name__)


DEFAULT_TERMS_DAYS = 30


@transaction.atomic
def assign_customer_class(client, customer_class: CustomerClass, *, billing_email=None) -> BillingProfile:
    """Put the client in a customer class (creating its billing profile if needed)."""
    client = lock_client(client)
    profile, created = BillingProfile.objects.get_or_create(
        client=client, defaults={"customer_class": customer_class, "billing_email": billing_email or ""}
    )
    if not created:
        profile.customer_class = customer_class
        if billing_email is not None:
            profile.billing_email = billing_email
        profile.save()
    return profile


@transaction.atomic
def issue_invoice(client, *, issued_on: dt.date, lines, period_start=None, period_end=None, number=None) -> Invoice:
    """Issue an invoice with ``lines`` of (description, quantity, unit_price); statuses set at once.

    Due date from the class's payment terms. A positive invoice takes over the
    outstanding amount of earlier No-payment-required invoices (threshold carry-over);
    it is itself No payment required while its amount due stays below the threshold.
    Without a ``number`` it takes the next one from the invoice sequence.
    """
    client = lock_client(client)
    built = []
    for description, quantity, unit_price in lines:
        quantity = (
            Decimal(str(quantity)) if not isinstance(quantity, float) else parse_money(quantity, field="quantity")
        )
        unit_price = parse_money(unit_price, field="unit_price")
        built.append(
            InvoiceLine(
                description=description,
                quantity=quantity,
                unit_price=unit_price,
                amount=quantize(quantity * unit_price),
            )
        )
    sequence = 0
    if number is None:
        [(number, sequence)] = take_numbers(1, issued_on=issued_on)
    return issue_built(
        client,
        issued_on=issued_on,
        lines=built,
        period_start=period_start,
        period_end=period_end,
        number=number,
        sequence=sequence,
    )


def issue_built(
    client, *, issued_on, lines, number, sequence=0, period_start=None, period_end=None, billing_run=None
) -> Invoice:
    """Issue one invoice of unsaved ``InvoiceLine`` objects for a client whose row this transaction
    holds locked (``issue_many`` with one invoice)."""
    built = Built(client, lines, number, sequence, period_start, period_end)
    return issue_many([built], issued_on=issued_on, billing_run=billing_run)[0]


@dataclass
class Built:
    """One invoice to issue: its client (row locked by the caller), unsaved lines, number, position."""

    client: object
    lines: list
    number: str
    sequence: int = 0
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    total: Decimal | None = None  # given when the lines are written by the caller (``write_lines``)


def _terms_many(client_ids) -> dict[int, tuple[int, Decimal]]:
    """Each client's payment terms and threshold: its class's, else the default class's."""
    default = CustomerClass.objects.filter(is_default=True).first()
    fallback = (default.payment_terms_days, default.collection_threshold) if default else (DEFAULT_TERMS_DAYS, ZERO)
    found = BillingProfile.objects.filter(client_id__in=client_ids).values_list(
        "client_id", "customer_class__payment_terms_days", "customer_class__collection_threshold"
    )
    terms = {client_id: (days, threshold) for client_id, days, threshold in found}
    return {client_id: terms.get(client_id, fallback) for client_id in client_ids}


def issue_many(
    bills: list[Built], *, issued_on: dt.date, billing_run=None, write_lines=None, refetch: bool = True
) -> list[Invoice]:
    """Issue invoices for clients whose rows this transaction holds locked (one invoice each), in a
    fixed number of statements: due dates from each class's terms; a positive invoice takes over the
    outstanding amount of earlier No-payment-required invoices (threshold carry-over) and is itself
    No payment required while its amount due stays below the threshold; open credit is allocated
    oldest first; statuses are set at once, each invoice's first history entry saying "issued".
    ``write_lines(invoices)``, when given, writes the lines itself (each bill then carries its total);
    ``refetch=False`` returns the invoices as inserted (a caller that only needs their ids)."""
    client_ids = [bill.client.pk for bill in bills]
    terms = _terms_many(client_ids)
    pending = Invoice.objects.filter(client_id__in=client_ids, total__gt=0, below_threshold=True, settled_by=None)
    carried_by = dict(
        pending.values("client_id").annotate(s=Sum(F("total") - F("amount_paid"))).values_list("client_id", "s")
    )
    invoices = []
    for bill in bills:
        days, threshold = terms[bill.client.pk]
        total = bill.total if bill.total is not None else sum((line.amount for line in bill.lines), ZERO)
        carried = (carried_by.get(bill.client.pk) or ZERO) if total > 0 else ZERO
        invoices.append(
            Invoice(
                number=bill.number,
                sequence=bill.sequence,
                billing_run=billing_run,
                client_id=bill.client.pk,
                period_start=bill.period_start,
                period_end=bill.period_end,
                issued_on=issued_on,
                due_on=issued_on + dt.timedelta(days=days),
                total=total,
                carried_in=carried,
                amount_due=total + carried,
                below_threshold=total > 0 and total + carried < threshold,
                previous_status="",  # given, not the column's default, so the insert is one UNNEST
            )
        )
    Invoice.objects.bulk_create(invoices, batch_size=2000)
    if write_lines is not None:
        write_lines(invoices)
    else:
        for bill, invoice in zip(bills, invoices, strict=True):
            for line in bill.lines:
                line.invoice = invoice
        InvoiceLine.objects.bulk_create([line for bill in bills for line in bill.lines], batch_size=5000)
    # Each positive invoice at or above the threshold settles its client's carried invoices (one statement).
    settling = {
        i.client_id: i.pk for i in invoices if i.total > 0 and not i.below_threshold and i.client_id in carried_by
    }
    if settling:
        settler = Invoice.objects.filter(pk__in=settling.values(), client_id=OuterRef("client_id")).values("pk")[:1]
        pending.filter(client_id__in=settling).exclude(pk__in=settling.values()).update(settled_by=Subquery(settler))
    for client in _with_open_credit(client_ids):
        allocate(client)
    apply_statuses(as_of=org_today(), source=StatusChangeSource.ISSUED, client_ids=client_ids)
    _first_entries(invoices)
    if not refetch:
        return invoices
    fresh = Invoice.objects.in_bulk([invoice.pk for invoice in invoices])  # as allocation and statuses left them
    return [fresh[invoice.pk] for invoice in invoices]


def _with_open_credit(client_ids):
    """The clients whose unallocated payments or unused credit could pay an open invoice now."""
    credit = set(
        Payment.objects.filter(client_id__in=client_ids, unallocated__gt=0).values_list("client_id", flat=True)
    )
    credit |= set(
        Invoice.objects.filter(client_id__in=client_ids, total__lt=0, credit_applied__lt=-F("total")).values_list(
            "client_id", flat=True
        )
    )
    return Client.objects.filter(pk__in=credit).order_by("pk")


def _first_entries(invoices) -> None:
    """The first history entry of a new invoice says "issued", whatever its first status: the
    entries the statuses just wrote are relabelled, and an invoice without one gets one."""
    ids = [invoice.pk for invoice in invoices]
    InvoiceStatusChange.objects.filter(invoice_id__in=ids).update(from_status="", source=StatusChangeSource.ISSUED)
    chosen, params = sql.among("i.id", ids)
    sql.run(
        f"""
        INSERT INTO {InvoiceStatusChange._meta.db_table} (invoice_id, from_status, to_status, as_of, source, created_at)
        SELECT i.id, '', i.status, %s, %s, %s FROM {Invoice._meta.db_table} i
         WHERE {chosen}
           AND NOT EXISTS (SELECT 1 FROM {InvoiceStatusChange._meta.db_table} s WHERE s.invoice_id = i.id)
        """,
        [
            connection.ops.adapt_datefield_value(org_today()),
            StatusChangeSource.ISSUED,
            connection.ops.adapt_datetimefield_value(timezone.now()),
            *params,
        ],
    )
