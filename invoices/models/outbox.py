"""What is sent about invoices: the outbox of e-mails, and each invoice's PDF as issued."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .ledger import Invoice


class MessageKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    RESEND = "resend", "Invoice resent"
    REMINDER = "reminder", "Reminder"


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    NOT_SENT = "not_sent", "Not sent"


class InvoiceMessage(models.Model):
    """One e-mail about one invoice. Keyed by (invoice, kind, occasion): a task retried for the same
    occasion finds the row and never sends twice; a deliberate resend is a new occasion."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=16, choices=MessageKind.choices)
    occasion = models.CharField(max_length=64, help_text='Why it is sent: "issue", or one resend\'s own key.')
    to_email = models.EmailField(blank=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweep reads the waiting messages only.
            models.Index(fields=["created_at"], condition=Q(status="pending"), name="invoice_message_waiting_idx")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "kind", "occasion"],
                name="invoice_message_once_per_occasion",
                violation_error_message="This message was already queued.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=MessageKind.values),
                name="invoice_message_kind_valid",
                violation_error_message="Unknown message kind.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=MessageStatus.values),
                name="invoice_message_status_valid",
                violation_error_message="Unknown message status.",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.invoice_id} → {self.to_email or '—'}"


class InvoiceDocument(models.Model):
    """The PDF of an issued invoice, rendered once and kept as it was issued."""

    invoice = models.OneToOneField(Invoice, on_delete=models.CASCADE, related_name="document")
    file = models.FileField(upload_to="invoices/%Y/%m/")
    size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"PDF of {self.invoice}"
