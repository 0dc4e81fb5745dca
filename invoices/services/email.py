"""Invoice e-mails, through an outbox: one ``InvoiceMessage`` row per (invoice, kind, occasion).

Issuing queues one message per invoice whose client has a billing e-mail; the worker delivers it
with the invoice's PDF attached. Delivery takes the message's row lock and sends only a message
still waiting, so a task that is retried or delivered twice, or the sweep meeting a task, never
sends it twice. A deliberate resend is a new occasion, so a new message with its own record.
A message the broker never heard of (it was down at commit) stays waiting, and the sweep
(``invoices.sweep_outbox``, every few minutes) delivers it.
"""

import datetime as dt
import logging
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from billingone import sql
from billingone.text import clip

from ..models import BillingProfile, Invoice, InvoiceMessage, MessageKind, MessageStatus
from .documents import invoice_pdf, pdf_filename

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # failed sends before a message is marked failed (it waits for the next try until then)
BATCH = 100  # messages per delivery task queued at commit: one broker call per batch, not per invoice
# A waiting message is the sweep's once it is this old (its task may have been lost), and after n
# failed attempts once it is 4ⁿ times as old (2 min, 8 min, 32 min…): a backoff without a clock column.
SWEEP_AFTER = dt.timedelta(minutes=2)
SWEEP_LIMIT = 5000  # messages one sweep queues; the next sweep takes the rest
NO_EMAIL = "This client has no billing e-mail address: set one in its billing profile first."
SUBJECTS = {
    MessageKind.INVOICE: "Invoice {number} from {organisation}",
    MessageKind.RESEND: "Invoice {number} from {organisation} (sent again)",
    MessageKind.REMINDER: "Reminder: invoice {number} from {organisation} is overdue",
}


def queue_invoice_messages(
    invoice_ids, *, kind: str = MessageKind.INVOICE, occasion: str = "issue", actor=None
) -> list[int]:
    """One waiting message per invoice (whose client has a billing e-mail) for this kind and
    occasion, delivered by the worker once the transaction commits. Queueing again is a no-op
    for the messages already there (already sent ones are never sent again). Returns the ids of
    the messages still waiting to be sent."""
    ids = list(invoice_ids)
    if not ids:
        return []
    chosen, params = sql.among("i.id", ids)
    sql.run(  # one statement; the (invoice, kind, occasion) constraint: queued once
        f"""
        INSERT INTO {InvoiceMessage._meta.db_table}
               (invoice_id, kind, occasion, to_email, status, attempts, last_error, created_by_id, created_at)
        SELECT i.id, %s, %s, b.billing_email, %s, 0, '', %s, %s
          FROM {Invoice._meta.db_table} i JOIN {BillingProfile._meta.db_table} b ON b.client_id = i.client_id
         WHERE b.billing_email <> '' AND {chosen}
        ON CONFLICT DO NOTHING
        """,
        [
            kind,
            occasion,
            MessageStatus.PENDING,
            actor.pk if actor is not None else None,
            connection.ops.adapt_datetimefield_value(timezone.now()),
            *params,
        ],
    )
    waiting = list(
        InvoiceMessage.objects.filter(
            invoice_id__in=ids, kind=kind, occasion=occasion, status=MessageStatus.PENDING
        ).values_list("pk", flat=True)
    )
    deliver_on_commit(waiting)
    return waiting


def deliver_on_commit(message_ids: list[int]) -> None:
    """Queue delivery of these messages once the transaction commits, in batches. A broker that
    refuses them then is logged and changes nothing else: the messages wait for the sweep."""
    from billingone.background import queue_on_commit

    from ..tasks import deliver_invoice_messages

    for start in range(0, len(message_ids), BATCH):
        queue_on_commit(deliver_invoice_messages, message_ids[start : start + BATCH])


def deliver_message(message_id: int) -> InvoiceMessage | None:
    """Send one waiting message (the invoice's PDF attached) under its row lock and record the
    outcome: sent, or the error and one more attempt (failed after ``MAX_ATTEMPTS``). A message
    already sent or failed is left as it is; one another worker is sending right now is skipped
    (``None``)."""
    with transaction.atomic():
        message = (
            InvoiceMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("invoice__client")
            .filter(pk=message_id)
            .first()
        )
        if message is None or message.status != MessageStatus.PENDING:
            return message
        message.attempts += 1
        try:
            _send(message)
        except Exception as exc:  # the mail server's or the connection's: recorded, tried again later
            log.warning(
                "invoice e-mail %s to %s failed (attempt %s): %s", message.pk, message.to_email, message.attempts, exc
            )
            message.last_error = clip(f"{type(exc).__name__}: {exc}", 500)
            if message.attempts >= MAX_ATTEMPTS:
                message.status = MessageStatus.FAILED
        else:
            message.status, message.sent_at, message.last_error = MessageStatus.SENT, timezone.now(), ""
        message.save(update_fields=["status", "attempts", "last_error", "sent_at"])
    return message


def _send(message: InvoiceMessage) -> None:
    _email(message.invoice, kind=message.kind, to=message.to_email).send()


def _email(invoice: Invoice, *, kind: str, to: str) -> EmailMessage:
    """The e-mail about an invoice: a short text body, the PDF as stored at issue attached."""
    subject = SUBJECTS[kind].format(number=invoice.number, organisation=settings.ORGANISATION_NAME)
    body = render_to_string("invoices/email/invoice.txt", {"invoice": invoice, "kind": kind})
    email = EmailMessage(subject=subject, body=body, to=[to])
    email.attach(pdf_filename(invoice), invoice_pdf(invoice), "application/pdf")
    return email


def messages_to_sweep(*, now=None) -> list[int]:
    """Waiting messages old enough that their own task should have sent them (lost at commit, or
    a retry that never came), oldest first, at most ``SWEEP_LIMIT``."""
    now = now or timezone.now()
    due = Q()
    for attempts in range(MAX_ATTEMPTS):
        due |= Q(attempts=attempts, created_at__lte=now - SWEEP_AFTER * 4**attempts)
    return list(
        InvoiceMessage.objects.filter(due, status=MessageStatus.PENDING)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )


def send_invoice_email(*, invoice: Invoice, to: str) -> int:
    """E-mail the invoice (PDF attached) to ``to`` at once, outside the outbox."""
    invoice = Invoice.objects.select_related("client").get(pk=invoice.pk)
    return _email(invoice, kind=MessageKind.INVOICE, to=to).send()


def resend_invoice(invoice: Invoice, actor=None) -> str:
    """Send the invoice again to the client's billing e-mail, now: a new message of its own
    occasion, recorded with who asked; returns the address it went to. Refused (nothing recorded)
    without a billing e-mail; a send that fails is recorded and tried again by the sweep, and the
    error says so."""
    profile = BillingProfile.objects.filter(client_id=invoice.client_id).first()
    if profile is None or not profile.billing_email:
        raise ValidationError(NO_EMAIL)
    occasion = f"resend-{timezone.now():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
    message = InvoiceMessage.objects.create(
        invoice_id=invoice.pk,
        kind=MessageKind.RESEND,
        occasion=occasion,
        to_email=profile.billing_email,
        created_by=actor,
    )
    log.info("invoice %s resend to %s asked by %s", invoice.number, profile.billing_email, actor)
    sent = deliver_message(message.pk)
    if sent is None or sent.status != MessageStatus.SENT:
        error = sent.last_error if sent is not None else "another worker is sending it"
        raise ValidationError(
            f"Invoice {invoice.number} could not be sent to {message.to_email} now ({error}). "
            "The message is recorded and will be tried again in a few minutes."
        )
    return message.to_email
