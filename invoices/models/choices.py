"""The fixed vocabularies of invoices: statuses, collection actions, payment methods, bounds."""

from django.db import models


class InvoiceStatus(models.TextChoices):
    UNPAID = "unpaid", "Unpaid"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    OVERDUE = "overdue", "Overdue"
    DO_NOT_PAY = "do_not_pay", "Do not pay"
    NO_PAYMENT_REQUIRED = "no_payment_required", "No payment required"
    PREVIOUS_BALANCE_REMAINING = "previous_balance_remaining", "Previous balance remaining"


class StepAction(models.TextChoices):
    RESEND = "resend", "Resend invoice"
    LIMIT = "limit", "Limit service"
    SUSPEND = "suspend", "Suspend customer"
    TERMINATE_COMMITMENTS = "terminate_commitments", "Terminate commitments"
    TERMINATE = "terminate", "Terminate customer"


# What a collection episode records: a step that fired, or the lifting of limit / suspend once paid.
CollectionActionKind = models.TextChoices(
    "CollectionActionKind",
    [(kind.name, (kind.value, kind.label)) for kind in StepAction] + [("LIFTED", ("lifted", "Restrictions lifted"))],
)


class StatusChangeSource(models.TextChoices):
    """What changed an invoice's status (shown in its history as "(issued, as of …)")."""

    ISSUED = "issued", "issued"
    PAYMENT = "payment", "payment"
    RECALCULATION = "recalculation", "recalculation"


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    CARD = "card", "Card"
    DIRECT_DEBIT = "direct_debit", "Direct debit"
    CHEQUE = "cheque", "Cheque"
    CASH = "cash", "Cash"
    OTHER = "other", "Other"


MAX_TERMS_DAYS = 365  # a year to pay is the longest terms anyone grants
MAX_DAYS_OVERDUE = 3650  # a collection step ten years on would never be reached
