"""Invoice e-mails."""

import logging

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from ..models import BillingProfile, Invoice

log = logging.getLogger(__name__)


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
