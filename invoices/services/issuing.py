"""Issuing invoices and assigning a client's customer class (payment terms, threshold).

Every service that changes a client's money takes that client's row lock first (``lock_client``),
so payments, invoices and collection runs for one client are serialised while different clients
run in parallel."""

import datetime as dt
import logging
import uuid
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum

from clients.dates import org_today
from clients.money import ZERO, quantize

from ..models import (
    BillingProfile,
    CustomerClass,
    Invoice,
    InvoiceLine,
    InvoiceStatusChange,
    StatusChangeSource,
)
from .common import lock_client, parse_money
from .payments import allocate
from .statuses import refresh_statuses

log = logging.getLogger(__name__)


DEFAULT_TERMS_DAYS = 30


def _terms(client) -> tuple[int, Decimal]:
    profile = BillingProfile.objects.filter(client=client).select_related("customer_class").first()
    if profile is None:
        return DEFAULT_TERMS_DAYS, ZERO
    return profile.customer_class.payment_terms_days, profile.customer_class.collection_threshold


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
    """
    client = lock_client(client)
    terms, threshold = _terms(client)
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
    total = sum((line.amount for line in built), ZERO)
    pending = Invoice.objects.filter(client=client, total__gt=0, below_threshold=True, settled_by__isnull=True)
    carried = ZERO
    below = False
    if total > 0:
        carried = pending.aggregate(s=Sum(F("total") - F("amount_paid")))["s"] or ZERO
        below = total + carried < threshold
    invoice = Invoice.objects.create(
        number=number or f"TMP-{uuid.uuid4().hex[:24]}",
        client=client,
        period_start=period_start,
        period_end=period_end,
        issued_on=issued_on,
        due_on=issued_on + dt.timedelta(days=terms),
        total=total,
        carried_in=carried,
        amount_due=total + carried,
        below_threshold=below,
    )
    if number is None:
        invoice.number = f"INV-{invoice.pk:07d}"
        invoice.save(update_fields=["number"])
    for line in built:
        line.invoice = invoice
    InvoiceLine.objects.bulk_create(built)
    if total > 0 and not below:
        pending.exclude(pk=invoice.pk).update(settled_by=invoice)
    allocate(client)
    refresh_statuses(client, source=StatusChangeSource.ISSUED)
    invoice.refresh_from_db()
    # The first history entry of a new invoice says "issued", whatever its first status.
    if not InvoiceStatusChange.objects.filter(invoice=invoice).update(from_status="", source=StatusChangeSource.ISSUED):
        InvoiceStatusChange.objects.create(
            invoice=invoice,
            from_status="",
            to_status=invoice.status,
            as_of=org_today(),
            source=StatusChangeSource.ISSUED,
        )
    return invoice
