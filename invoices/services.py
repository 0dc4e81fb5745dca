"""Writes for invoices: issuing, payments and their allocation, statuses, collections.

Every service that changes a client's money takes that client's row lock first
(``select_for_update`` on the one Client row), so payments, invoices and
collection runs for one client are serialised while different clients run in
parallel. Statuses are then set by the same set-based statement the nightly
recalculation uses (``statuses.apply_statuses``), scoped to the client.
"""

import datetime as dt
import logging
import uuid
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Min, Sum
from django.template.loader import render_to_string
from django.utils import timezone

from billingone.text import clip
from clients.dates import org_today
from clients.models import Client, ServiceStatus
from clients.money import ZERO, quantize
from clients.services import end_contracts, set_service_status

from .models import (
    Allocation,
    BillingProfile,
    CollectionAction,
    CollectionEpisode,
    CollectionStep,
    CustomerClass,
    Invoice,
    InvoiceLine,
    InvoiceStatusChange,
    Payment,
    PaymentMethod,
    StepAction,
)
from .statuses import apply_statuses

log = logging.getLogger(__name__)

DEFAULT_TERMS_DAYS = 30
LIFTED = "lifted"


def _lock_client(client) -> Client:
    return Client.objects.select_for_update().get(pk=client.pk if isinstance(client, Client) else client)


def _terms(client) -> tuple[int, Decimal]:
    profile = BillingProfile.objects.filter(client=client).select_related("customer_class").first()
    if profile is None:
        return DEFAULT_TERMS_DAYS, ZERO
    return profile.customer_class.payment_terms_days, profile.customer_class.collection_threshold


@transaction.atomic
def assign_customer_class(client, customer_class: CustomerClass, *, billing_email=None) -> BillingProfile:
    """Put the client in a customer class (creating its billing profile if needed)."""
    client = _lock_client(client)
    profile, created = BillingProfile.objects.get_or_create(
        client=client, defaults={"customer_class": customer_class, "billing_email": billing_email or ""}
    )
    if not created:
        profile.customer_class = customer_class
        if billing_email is not None:
            profile.billing_email = billing_email
        profile.save()
    return profile


def _money(value, *, field) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money must never be a float")
    try:
        return quantize(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise ValidationError({field: "Enter an amount such as 125.50."}) from exc


@transaction.atomic
def issue_invoice(client, *, issued_on: dt.date, lines, period_start=None, period_end=None, number=None) -> Invoice:
    """Issue an invoice with ``lines`` of (description, quantity, unit_price); statuses set at once.

    Due date from the class's payment terms. A positive invoice takes over the
    outstanding amount of earlier No-payment-required invoices (threshold carry-over);
    it is itself No payment required while its amount due stays below the threshold.
    """
    client = _lock_client(client)
    terms, threshold = _terms(client)
    built = []
    for description, quantity, unit_price in lines:
        quantity = Decimal(str(quantity)) if not isinstance(quantity, float) else _money(quantity, field="quantity")
        unit_price = _money(unit_price, field="unit_price")
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
    _allocate(client)
    _refresh(client, source="issued")
    invoice.refresh_from_db()
    # The first history entry of a new invoice says "issued", whatever its first status.
    if not InvoiceStatusChange.objects.filter(invoice=invoice).update(from_status="", source="issued"):
        InvoiceStatusChange.objects.create(
            invoice=invoice, from_status="", to_status=invoice.status, as_of=org_today(), source="issued"
        )
    return invoice


@transaction.atomic
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
    amount = _money(amount, field="amount")
    reference = (reference or "").strip()
    errors = {}
    if amount <= 0:
        errors["amount"] = "A payment must be more than zero."
    if received_on > org_today():
        errors["received_on"] = "A payment cannot be received in the future."
    if not reference:
        errors["reference"] = "Give the payment's external reference."
    if method not in PaymentMethod.values:
        errors["method"] = "Unknown payment method."
    if errors:
        raise ValidationError(errors)
    fields = dict(amount=amount, received_on=received_on, method=method, reference=reference, recorded_by=recorded_by)
    # After every allocation either no invoice is open or no credit is left, so the
    # new payment is the only credit that can pay the open invoices now.
    if connection.vendor == "postgresql":
        client = client if isinstance(client, Client) else Client(pk=client)
        payment = _lock_client_and_insert_payment_sql(client=client, **fields)
        if payment is None:
            return Payment.objects.get(client=client, reference=reference)
        allocated, episode_open = _allocate_payment_sql(payment)
    else:
        client = _lock_client(client)
        fields["client"] = client
        existing = Payment.objects.filter(client=client, reference=reference).first()
        if existing is not None:
            return existing
        payment = Payment.objects.create(unallocated=amount, **fields)
        allocated, episode_open = bool(_allocate(client, new_payment=payment)), True
    if allocated:
        _refresh(client, source="payment")
        if episode_open:
            _close_episode_if_clear(client, as_of=org_today())
    return payment


# PostgreSQL: the same oldest-first allocation of one new payment as one statement
# (running total of what the open invoices owe, by window function).
ALLOCATE_PAYMENT_SQL = """
WITH open AS (
    SELECT id, total - amount_paid AS owed,
           sum(total - amount_paid) OVER (ORDER BY issued_on, number, id) AS owed_to_here
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
"""


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
    now = timezone.now()
    recorded_by_id = recorded_by.pk if recorded_by is not None else None
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH locked AS (SELECT id FROM clients_client WHERE id = %s FOR UPDATE)"
            " INSERT INTO invoices_payment"
            " (client_id, amount, received_on, method, reference, unallocated, recorded_by_id, created_at)"
            " SELECT locked.id, %s, %s, %s, %s, %s, %s, %s FROM locked"
            " ON CONFLICT (client_id, reference) DO NOTHING RETURNING id",
            [client.pk, amount, received_on, method, reference, amount, recorded_by_id, now],
        )
        row = cursor.fetchone()
    if row is None:
        if not Client.objects.filter(pk=client.pk).exists():
            raise Client.DoesNotExist(f"no client with id {client.pk}")
        return None
    payment = Payment(
        pk=row[0],
        client=client,
        amount=amount,
        unallocated=amount,
        received_on=received_on,
        method=method,
        reference=reference,
        recorded_by_id=recorded_by_id,
        created_at=now,
    )
    payment._state.adding = False
    payment._state.db = connection.alias
    return payment


def _allocate(client, *, new_payment=None) -> list[Allocation]:
    """Pair open credits with open invoices, oldest first on both sides (client lock held)."""
    invoices = list(
        Invoice.objects.filter(client=client, total__gt=0, amount_paid__lt=F("total")).order_by(
            "issued_on", "number", "id"
        )
    )
    if not invoices:
        return []
    if new_payment is not None:
        payments, credits = [new_payment], []
    else:
        payments = list(Payment.objects.filter(client=client, unallocated__gt=0).order_by("received_on", "id"))
        credits = list(
            Invoice.objects.filter(client=client, total__lt=0, credit_applied__lt=-F("total")).order_by(
                "issued_on", "number", "id"
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


def _refresh(client, *, source, as_of=None) -> dict:
    return apply_statuses(as_of=as_of or org_today(), source=source, client_id=client.pk)


# --- Nightly recalculation ------------------------------------------------------------------

CHUNK_CLIENTS = 10_000


def client_chunks(chunk_size: int = CHUNK_CLIENTS) -> list[tuple[int, int]]:
    """Client id ranges of about ``chunk_size`` clients each, covering every client."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM clients_client) c"
            " WHERE (rn - 1) %% %s = 0 ORDER BY id",
            [chunk_size],
        )
        starts = [row[0] for row in cursor.fetchall()]
    if not starts:
        return []
    ends = [s - 1 for s in starts[1:]] + [2**62]
    return list(zip(starts, ends, strict=True))


@transaction.atomic
def recalculate_chunk(*, as_of: dt.date, client_range: tuple[int, int]) -> dict:
    """Recalculate the statuses of the invoices of clients whose id is in ``client_range``."""
    return apply_statuses(as_of=as_of, source="recalculation", client_range=client_range)


def recalculate_statuses(*, as_of: dt.date | None = None, chunk_size: int | None = None) -> dict:
    """Every invoice's status as of ``as_of`` (one transaction per chunk of clients); returns counts.

    Idempotent: a second run changes nothing. Returns {"changed": n, "<status>": n, ...}.
    """
    as_of = as_of or org_today()
    counts: dict[str, int] = {}
    chunks = client_chunks(chunk_size) if chunk_size else [(0, 2**62)]
    for chunk in chunks:
        for status, n in recalculate_chunk(as_of=as_of, client_range=chunk).items():
            counts[status] = counts.get(status, 0) + n
    counts["changed"] = sum(counts.values())
    return counts


# --- Collections ---------------------------------------------------------------------------


def _overdue_invoices(as_of):
    """Positive, payable invoices not fully paid on a date after their due date."""
    return Invoice.objects.filter(total__gt=0, below_threshold=False, amount_paid__lt=F("total"), due_on__lt=as_of)


def run_collections(*, as_of: dt.date | None = None, client_range: tuple[int, int] | None = None) -> dict:
    """Fire the collection steps that are due, once per episode; close episodes whose overdue is paid.

    Which clients have something to do is worked out with a handful of set-based
    queries; only those clients are then locked and handled one by one.
    """
    as_of = as_of or org_today()
    scope = {}
    if client_range:
        scope = {"client_id__gte": client_range[0], "client_id__lte": client_range[1]}
    delinquent = dict(
        _overdue_invoices(as_of)
        .filter(**scope)
        .order_by()
        .values("client_id")
        .annotate(oldest=Min("due_on"))
        .values_list("client_id", "oldest")
    )
    open_episodes = set(
        CollectionEpisode.objects.filter(closed_on__isnull=True, **scope).values_list("client_id", flat=True)
    )
    fired = set(
        CollectionAction.objects.filter(
            episode__closed_on__isnull=True, step__isnull=False, **{f"episode__{k}": v for k, v in scope.items()}
        ).values_list("episode__client_id", "step_id")
    )
    class_of = dict(BillingProfile.objects.filter(**scope).values_list("client_id", "customer_class_id"))
    steps_of: dict[int, list[tuple[int, int]]] = {}
    for class_id, days, step_id in CollectionStep.objects.values_list("customer_class_id", "days_overdue", "pk"):
        steps_of.setdefault(class_id, []).append((days, step_id))

    counts = {"fired": 0, "opened": 0, "closed": 0}
    for client_id in sorted(delinquent):
        days = (as_of - delinquent[client_id]).days
        due = [
            sid for d, sid in steps_of.get(class_of.get(client_id), []) if d <= days and (client_id, sid) not in fired
        ]
        if client_id in open_episodes and not due:
            continue
        fired_now, opened = _collect_client(client_id, as_of=as_of)
        counts["fired"] += fired_now
        counts["opened"] += opened
    for client_id in sorted(open_episodes - set(delinquent)):
        with transaction.atomic():
            counts["closed"] += _close_episode_if_clear(Client(pk=client_id), as_of=as_of)
    return counts


@transaction.atomic
def _collect_client(client_id: int, *, as_of: dt.date) -> tuple[int, int]:
    client = _lock_client(client_id)
    oldest = _overdue_invoices(as_of).filter(client=client).order_by("due_on", "issued_on", "number").first()
    if oldest is None:  # paid meanwhile
        return 0, 0
    episode = CollectionEpisode.objects.filter(client=client, closed_on__isnull=True).first()
    opened = 0
    if episode is None:
        episode = CollectionEpisode.objects.create(client=client, opened_on=oldest.due_on + dt.timedelta(days=1))
        opened = 1
    days = (as_of - oldest.due_on).days
    profile = BillingProfile.objects.filter(client=client).select_related("customer_class").first()
    if profile is None:
        return 0, opened
    done = set(episode.actions.values_list("step_id", flat=True))
    steps = (
        profile.customer_class.steps.filter(days_overdue__lte=days).exclude(pk__in=done).order_by("days_overdue", "id")
    )
    fired = 0
    for step in steps:
        try:
            with transaction.atomic():
                action = CollectionAction.objects.create(
                    episode=episode,
                    step=step,
                    action=step.action,
                    invoice=oldest,
                    fired_on=as_of,
                    detail=f"{step.get_action_display()}: {oldest.number} is {days} days overdue",
                )
        except IntegrityError:  # another run fired it first
            continue
        _perform(step.action, client=client, invoice=oldest, profile=profile, as_of=as_of, action=action)
        fired += 1
    return fired, opened


def _perform(kind, *, client, invoice, profile, as_of, action):
    reason = f"Collections: {invoice.number} overdue since {invoice.due_on:%Y-%m-%d}"
    if kind == StepAction.RESEND:
        if profile.billing_email:
            transaction.on_commit(lambda: send_invoice_email(invoice=invoice, to=profile.billing_email))
        else:
            action.detail = clip(action.detail + " — no billing e-mail on file, nothing sent", 500)
            action.save(update_fields=["detail"])
    elif kind == StepAction.LIMIT:
        if client.service_status == ServiceStatus.ACTIVE:
            set_service_status(client=client, to_status=ServiceStatus.LIMITED, reason=reason)
    elif kind == StepAction.SUSPEND:
        if client.service_status in (ServiceStatus.ACTIVE, ServiceStatus.LIMITED):
            set_service_status(client=client, to_status=ServiceStatus.SUSPENDED, reason=reason)
    elif kind == StepAction.TERMINATE_COMMITMENTS:
        n = end_contracts(client=client, on=as_of, reason=reason, source="collections")
        action.detail = clip(action.detail + f" — {n} contract(s) ended", 500)
        action.save(update_fields=["detail"])
    elif kind == StepAction.TERMINATE:
        set_service_status(client=client, to_status=ServiceStatus.TERMINATED, reason=reason)


def _close_episode_if_clear(client, *, as_of: dt.date) -> int:
    """Close the client's open episode when nothing is overdue; lift limit/suspend it imposed."""
    episode = CollectionEpisode.objects.filter(client=client, closed_on__isnull=True).first()
    if episode is None:
        return 0
    client = _lock_client(client)
    if _overdue_invoices(as_of).filter(client=client).exists():
        return 0
    episode.closed_on = as_of
    episode.save(update_fields=["closed_on"])
    imposed = episode.actions.filter(action__in=[StepAction.LIMIT, StepAction.SUSPEND]).exists()
    detail = "Overdue balance paid: episode closed"
    if imposed and client.service_status in (ServiceStatus.LIMITED, ServiceStatus.SUSPENDED):
        set_service_status(client=client, to_status=ServiceStatus.ACTIVE, reason="Collections: overdue balance paid")
        detail += ", service restored"
    CollectionAction.objects.create(episode=episode, step=None, action=LIFTED, fired_on=as_of, detail=detail)
    return 1


# --- E-mail ---------------------------------------------------------------------------------


def send_invoice_email(*, invoice: Invoice, to: str) -> int:
    """E-mail the invoice to the billing contact through Django's mail backend."""
    invoice = Invoice.objects.select_related("client").prefetch_related("lines").get(pk=invoice.pk)
    body = render_to_string("invoices/email/invoice.txt", {"invoice": invoice})
    return EmailMessage(subject=f"Invoice {invoice.number} from your IT provider", body=body, to=[to]).send()


def resend_invoice(*, invoice: Invoice, actor=None) -> str:
    """Resend an invoice to the client's billing e-mail now; returns the address used."""
    profile = BillingProfile.objects.filter(client_id=invoice.client_id).first()
    if profile is None or not profile.billing_email:
        raise ValidationError("This client has no billing e-mail address: set one in its billing profile first.")
    send_invoice_email(invoice=invoice, to=profile.billing_email)
    log.info("invoice %s resent to %s by %s", invoice.number, profile.billing_email, actor)
    return profile.billing_email
