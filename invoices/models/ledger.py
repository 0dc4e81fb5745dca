"""The ledger: invoices and their lines, payments, allocations, and the status history."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from clients.models import Client
from clients.money import ZERO, MoneyField

from .choices import InvoiceStatus, PaymentMethod, StatusChangeSource


class Invoice(models.Model):
    """An invoice issued to a client; its status is derived from balances and dates."""

    number = models.CharField(max_length=32, unique=True)
    # The invoice's place in the gap-free numbering sequence (0 for a number given from outside:
    # imported history, demo data). Every "earlier invoice" comparison orders by (issue date, this,
    # id), never by the number's text, so a new prefix or width never reorders documents.
    sequence = models.PositiveBigIntegerField(default=0, db_default=0, editable=False)
    billing_run = models.ForeignKey(
        "invoices.BillingRun",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
        help_text="The billing run that generated this invoice (empty for a one-off invoice).",
    )
    # Indexed by invoice_client_order_idx (client first); no second index on the column.
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="invoices", db_index=False)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    issued_on = models.DateField()
    due_on = models.DateField()
    total = MoneyField()
    carried_in = MoneyField(
        default=ZERO, help_text="Outstanding amount of earlier No-payment-required invoices carried into this one."
    )
    amount_due = MoneyField(help_text="Total plus the amount carried in.")
    below_threshold = models.BooleanField(
        default=False, help_text="Amount due was below the class threshold at issue: No payment required."
    )
    settled_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="absorbed",
        help_text="The payable invoice that took over this invoice's amount due.",
    )
    amount_paid = MoneyField(default=ZERO, help_text="Allocated to this invoice from payments and credits.")
    credit_applied = MoneyField(default=ZERO, help_text="For a negative invoice: how much of its credit is used.")
    status = models.CharField(max_length=32, choices=InvoiceStatus.choices, default=InvoiceStatus.UNPAID)
    previous_status = models.CharField(
        max_length=32,
        blank=True,
        db_default="",
        editable=False,
        help_text="The status before the last change: lets one UPDATE pass both to the status history.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-issued_on", "-sequence", "-id"]
        permissions = [("resend_invoice", "Can resend an invoice to the client")]
        # No index contains ``status``: the nightly recalculation then updates rows in
        # place (PostgreSQL HOT updates, with the table's fillfactor leaving room).
        indexes = [
            models.Index(fields=["client", "issued_on", "sequence", "id"], name="invoice_client_order_idx"),
            models.Index(fields=["issued_on"], name="invoice_issued_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_on__gte=F("issued_on")),
                name="invoice_due_after_issue",
                violation_error_message="An invoice cannot be due before it is issued.",
            ),
            models.CheckConstraint(
                condition=Q(amount_paid__gte=0) & (Q(amount_paid=0) | Q(amount_paid__lte=F("total"))),
                name="invoice_paid_within_total",
                violation_error_message="An invoice cannot be paid more than its total.",
            ),
            models.CheckConstraint(
                condition=Q(credit_applied__gte=0) & (Q(credit_applied=0) | Q(credit_applied__lte=-F("total"))),
                name="invoice_credit_within_total",
                violation_error_message="A credit cannot be used for more than its amount.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=InvoiceStatus.values),
                name="invoice_status_valid",
                violation_error_message="Unknown invoice status.",
            ),
        ]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("invoices:detail", args=[self.pk])

    @property
    def outstanding(self):
        """What is still to be paid on this invoice itself (0 for credits)."""
        return max(self.total - self.amount_paid, ZERO)

    @property
    def is_credit(self) -> bool:
        return self.total < 0


class BilledLine(models.Model):
    """What an invoice line and a draft line share: the text, the figures, and for a line a billing
    run wrote, the contract line and month it bills (what "already billed" sums)."""

    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=12, decimal_places=2)
    unit_price = MoneyField()
    amount = MoneyField()
    contract_line = models.ForeignKey(
        "clients.ContractLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The contract line this bills (billing runs only); a billed line cannot be deleted.",
    )
    period = models.DateField(null=True, blank=True, help_text="First day of the month this line bills.")
    service_start = models.DateField(null=True, blank=True, help_text="First day in force that this line bills.")
    service_end = models.DateField(null=True, blank=True, help_text="Last day in force that this line bills.")
    days = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Days in force billed this month.")
    days_in_month = models.PositiveSmallIntegerField(null=True, blank=True)
    adjustment = models.BooleanField(default=False, help_text="Corrects an earlier month.")

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.description}: {self.quantity} × {self.unit_price}"

    @property
    def day_fraction(self) -> str:
        return f"{self.days}/{self.days_in_month}" if self.days is not None else ""


class InvoiceLine(BilledLine):
    """One line of an issued invoice."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")

    class Meta:
        ordering = ["invoice", "id"]
        indexes = [
            models.Index(
                fields=["contract_line", "period"],
                name="invoice_line_billed_idx",
                condition=Q(contract_line__isnull=False),
            )
        ]


# Oldest first, defined once: the order in which a client's open invoices take its payments and
# credits (the Python allocation and the single PostgreSQL statement both read it from here).
ALLOCATION_ORDER = ("issued_on", "sequence", "id")
PAYMENT_ORDER = ("received_on", "id")  # which credit goes first: the earliest payment

# What a payment must be; the service checks, the form shows its message, the database guards.
PAYMENT_NOT_POSITIVE = "A payment must be more than zero."
PAYMENT_REFERENCE_TAKEN = "This client already has a payment with this reference."


class Payment(models.Model):
    """Money received from a client; allocated to its oldest open invoices first."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="payments")
    amount = MoneyField()
    received_on = models.DateField()
    method = models.CharField(max_length=20, choices=PaymentMethod.choices, default=PaymentMethod.OTHER)
    reference = models.CharField(max_length=100, help_text="External reference, unique per client.")
    unallocated = MoneyField(default=ZERO, help_text="Left over as client credit.")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "reference"],
                name="payment_reference_unique_per_client",
                violation_error_message=PAYMENT_REFERENCE_TAKEN,
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="payment_amount_positive",
                violation_error_message=PAYMENT_NOT_POSITIVE,
            ),
            models.CheckConstraint(
                condition=Q(unallocated__gte=0) & Q(unallocated__lte=F("amount")),
                name="payment_unallocated_within_amount",
                violation_error_message="A payment cannot allocate more than its amount.",
            ),
        ]

    def __str__(self):
        return f"{self.reference}: {self.amount}"


class Allocation(models.Model):
    """Part of a payment, or of a negative invoice's credit, applied to an invoice."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="allocations")
    credit_invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="credit_allocations"
    )
    amount = MoneyField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="allocation_amount_positive",
                violation_error_message="An allocation must be more than zero.",
            ),
            models.CheckConstraint(
                condition=(Q(payment__isnull=False) & Q(credit_invoice__isnull=True))
                | (Q(payment__isnull=True) & Q(credit_invoice__isnull=False)),
                name="allocation_one_source",
                violation_error_message="An allocation comes from exactly one payment or one credit.",
            ),
        ]

    def __str__(self):
        return f"{self.amount} → {self.invoice_id}"


class InvoiceStatusChange(models.Model):
    """Status history of an invoice: from, to, as of which date, and what changed it."""

    # No database FK check: the nightly run appends up to one row per invoice, and a
    # deferred check per row would cost more than the update itself. Rows are only
    # written by services, for invoices that exist; deletes cascade in Django.
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="status_changes", db_constraint=False)
    from_status = models.CharField(max_length=32, choices=InvoiceStatus.choices, blank=True)
    to_status = models.CharField(max_length=32, choices=InvoiceStatus.choices)
    as_of = models.DateField()
    source = models.CharField(
        max_length=32, choices=StatusChangeSource.choices, default=StatusChangeSource.RECALCULATION
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.invoice_id}: {self.from_status} → {self.to_status}"
