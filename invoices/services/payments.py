"""Recording payments and allocating them oldest first; leftover is credit."""

import datetime as dt
import logging

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from clients.dates import display_date, org_today
from clients.models import Client

from ..models import (
    ALLOCATION_ORDER,
    PAYMENT_NOT_POSITIVE,
    PAYMENT_ORDER,
    Allocation,
    Invoice,
    Payment,
    PaymentMethod,
    StatusChangeSource,
)
from .collections import close_episode_if_clear
from .common import lock_client, parse_plain_amount
from .statuses import refresh_statuses

log = logging.getLogger(__name__)


def record_payment(
    client,
    *,
    amount,
    received_on: dt.date,
    reference: str,
    method: str = PaymentMethod.OTHER,
    recorded_by=None,
) -> Payment:
    """Record a payment and allocate it to the oldest open invoices first; statuses set at once.

    The same reference twice for one client returns the first payment and changes nothing.
    """
    fields = dict(amount=amount, received_on=received_on, reference=reference, method=method)
    return receive_payment(client, recorded_by=recorded_by, **fields)[0]


BACKDATED_AFTER = dt.timedelta(days=90)  # older than this: the console asks "really received then?"
OLDEST = dt.timedelta(days=5 * 365)  # older than this is a typo (or a payment for another system)
NEEDS_CONFIRMATION = "needs_confirmation"  # the ValidationError code the console answers with a checkbox


def validate_payment(*, amount, received_on: dt.date, reference: str, method: str, backdated_confirmed=True):
    """The rules of a payment, in one place: returns (amount as Decimal, reference stripped) or
    raises ``ValidationError`` with a message per field (which the console's form shows).

    A payment dated more than 90 days back needs ``backdated_confirmed`` (the console asks; a
    program recording a bank file has checked its dates); one more than five years back is refused.
    """
    amount = parse_plain_amount(amount, field="amount")
    reference = (reference or "").strip()
    today = org_today()
    errors = {}
    if amount <= 0:
        errors["amount"] = PAYMENT_NOT_POSITIVE
    if received_on > today:
        errors["received_on"] = "A payment cannot be received in the future."
    elif received_on < today - OLDEST:
        errors["received_on"] = f"A payment cannot be dated before {display_date(today - OLDEST)} (five years back)."
    elif received_on < today - BACKDATED_AFTER and not backdated_confirmed:
        days = (today - received_on).days
        errors["received_on"] = ValidationError(
            f"This payment is dated {days} days ago. If it really was received then, tick the box below and record it again.",
            code=NEEDS_CONFIRMATION,
        )
    if not reference:
        errors["reference"] = "Give the payment's external reference."
    if method not in PaymentMethod.values:
        errors["method"] = "Unknown payment method."
    if errors:
        raise ValidationError(errors)
    return amount, reference


@transaction.atomic
def receive_payment(
    client,
    *,
    amount,
    received_on: dt.date,
    reference: str,
    method: str = PaymentMethod.OTHER,
    recorded_by=None,
    backdated_confirmed=True,
) -> tuple[Payment, bool]:
    """``record_payment``, saying whether the payment is new: ``(payment, False)`` when the client
    already has a payment with this reference (the console then says "already recorded")."""
    checks = dict(amount=amount, received_on=received_on, reference=reference, method=method)
    amount, reference = validate_payment(**checks, backdated_confirmed=backdated_confirmed)
    fields = dict(amount=amount, received_on=received_on, method=method, reference=reference, recorded_by=recorded_by)
    # After every allocation either no invoice is open or no credit is left, so the
    # new payment is the only credit that can pay the open invoices now.
    if connection.vendor == "postgresql":
        client = client if isinstance(client, Client) else Client(pk=client)
        payment = _lock_client_and_insert_payment_sql(client=client, **fields)
        if payment is None:
            return Payment.objects.get(client=client, reference=reference), False
        allocated, episode_open = _allocate_payment_sql(payment)
    else:
        client = lock_client(client)
        fields["client"] = client
        existing = Payment.objects.filter(client=client, reference=reference).first()
        if existing is not None:
            return existing, False
        payment = Payment.objects.create(unallocated=amount, **fields)
        allocated, episode_open = bool(allocate(client, new_payment=payment)), True
    if allocated:
        refresh_statuses(client, source=StatusChangeSource.PAYMENT)
        if episode_open:
            close_episode_if_clear(client, as_of=org_today())
    return payment, True


# PostgreSQL: the same oldest-first allocation of one new payment as one statement
# (running total of what the open invoices owe, by window function, in ALLOCATION_ORDER).
ALLOCATE_PAYMENT_SQL = """
WITH open AS (
    SELECT id, total - amount_paid AS owed,
           sum(total - amount_paid) OVER (ORDER BY {order}) AS owed_to_here
      FROM invoices_invoice
     WHERE client_id = %(client)s AND total > 0 AND amount_paid < total
), alloc AS (
    SELECT id, LEAST(owed, %(amount)s - (owed_to_here - owed)) AS take
      FROM open WHERE owed_to_here - owed < %(amount)s
), inserted AS (
    INSERT INTO invoices_allocation (invoice_id, payment_id, amount, created_at)
    SELECT id, %(payment)s, take, now() FROM alloc
), paid AS (
    UPDATE invoices_invoice i SET amount_paid = i.amount_paid + alloc.take FROM alloc WHERE i.id = alloc.id
)
UPDATE invoices_payment SET unallocated = %(amount)s - COALESCE((SELECT sum(take) FROM alloc), 0)
 WHERE id = %(payment)s
RETURNING unallocated, EXISTS (
    SELECT 1 FROM invoices_collectionepisode WHERE client_id = %(client)s AND closed_on IS NULL
)
""".replace("{order}", ", ".join(Invoice._meta.get_field(name).column for name in ALLOCATION_ORDER))


def _allocate_payment_sql(payment) -> tuple[bool, bool]:
    """Allocate a new payment in one statement (client lock held).

    Returns (anything allocated, the client has an open collection episode).
    """
    params = {"client": payment.client_id, "payment": payment.pk, "amount": payment.amount}
    with connection.cursor() as cursor:
        cursor.execute(ALLOCATE_PAYMENT_SQL, params)
        payment.unallocated, episode_open = cursor.fetchone()
    return payment.unallocated < payment.amount, episode_open


def _lock_client_and_insert_payment_sql(
    *, client, amount, received_on, method, reference, recorded_by
) -> Payment | None:
    """Lock the client's row and insert the payment, in one round trip.

    Returns None when the client already has a payment with this reference. Raises
    Client.DoesNotExist for an unknown client. The statements that follow (allocation,
    statuses) start after the lock is held, so they see every earlier payment.
    """
    recorded_by_id = recorded_by.pk if recorded_by is not None else None
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH locked AS (SELECT id FROM clients_client WHERE id = %s FOR UPDATE)"
            " INSERT INTO invoices_payment"
            " (client_id, amount, received_on, method, reference, unallocated, recorded_by_id, created_at)"
            " SELECT locked.id, %s, %s, %s, %s, %s, %s, %s FROM locked"
            f" ON CONFLICT (client_id, reference) DO NOTHING RETURNING {', '.join(PAYMENT_COLUMNS)}",
            [client.pk, amount, received_on, method, reference, amount, recorded_by_id, timezone.now()],
        )
        row = cursor.fetchone()
    if row is None:
        if not Client.objects.filter(pk=client.pk).exists():
            raise Client.DoesNotExist(f"no client with id {client.pk}")
        return None
    payment = Payment.from_db(connection.alias, PAYMENT_FIELDS, row)  # as if read by the ORM
    payment.client = client
    return payment


PAYMENT_FIELDS = [f.attname for f in Payment._meta.concrete_fields]
PAYMENT_COLUMNS = [f.column for f in Payment._meta.concrete_fields]


def allocate(client, *, new_payment=None) -> list[Allocation]:
    """Pair open credits with open invoices, oldest first on both sides (client lock held)."""
    invoices = list(
        Invoice.objects.filter(client=client, total__gt=0, amount_paid__lt=F("total")).order_by(*ALLOCATION_ORDER)
    )
    if not invoices:
        return []
    if new_payment is not None:
        payments, credits = [new_payment], []
    else:
        payments = list(Payment.objects.filter(client=client, unallocated__gt=0).order_by(*PAYMENT_ORDER))
        credits = list(
            Invoice.objects.filter(client=client, total__lt=0, credit_applied__lt=-F("total")).order_by(
                *ALLOCATION_ORDER
            )
        )
    if not payments and not credits:
        return []
    sources = sorted(
        [(p.received_on, 0, p.pk, p) for p in payments] + [(c.issued_on, 1, c.pk, c) for c in credits],
        key=lambda s: s[:3],
    )
    allocations = []
    touched_payments, touched_credits, touched_invoices = set(), set(), set()
    source_iter = iter(sources)
    source = next(source_iter, None)
    for invoice in invoices:
        while source is not None and invoice.amount_paid < invoice.total:
            obj = source[3]
            available = obj.unallocated if isinstance(obj, Payment) else -obj.total - obj.credit_applied
            take = min(available, invoice.total - invoice.amount_paid)
            if take > 0:
                invoice.amount_paid += take
                touched_invoices.add(invoice)
                if isinstance(obj, Payment):
                    obj.unallocated -= take
                    touched_payments.add(obj)
                    allocations.append(Allocation(invoice=invoice, payment=obj, amount=take))
                else:
                    obj.credit_applied += take
                    touched_credits.add(obj)
                    allocations.append(Allocation(invoice=invoice, credit_invoice=obj, amount=take))
            if take >= available:
                source = next(source_iter, None)
        if source is None:
            break
    Allocation.objects.bulk_create(allocations)
    if touched_invoices:
        Invoice.objects.bulk_update(list(touched_invoices), ["amount_paid"])
    if touched_payments:
        Payment.objects.bulk_update(list(touched_payments), ["unallocated"])
    if touched_credits:
        Invoice.objects.bulk_update(list(touched_credits), ["credit_applied"])
    return allocations
