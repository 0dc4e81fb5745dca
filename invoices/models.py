"""Invoices, payments, statuses and collections (SPEC section 3).

Balances are stored on the rows the services lock and change (``Invoice.amount_paid``,
``Invoice.credit_applied``, ``Payment.unallocated``) so that the nightly status
recalculation is one set-based statement over the invoice table.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from clients.models import Client
from clients.money import ZERO, MoneyField


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


class CustomerClass(models.Model):
    """A class of customers: payment terms, collection threshold and collection schedule."""

    name = models.CharField(max_length=100, unique=True)
    payment_terms_days = models.PositiveSmallIntegerField(default=30, help_text="Days from issue to due date.")
    collection_threshold = MoneyField(
        default=ZERO, help_text="An amount due below this is not payable yet: it carries into the next invoice."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "customer classes"
        constraints = [
            models.CheckConstraint(
                condition=Q(collection_threshold__gte=0),
                name="customer_class_threshold_not_negative",
                violation_error_message="The collection threshold cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(payment_terms_days__lte=MAX_TERMS_DAYS),
                name="customer_class_terms_sane",
                violation_error_message=f"Payment terms: at most {MAX_TERMS_DAYS} days.",
            ),
        ]

    def __str__(self):
        return self.name


class CollectionStep(models.Model):
    """One step of a class's collection schedule: this many days overdue → this action."""

    customer_class = models.ForeignKey(CustomerClass, on_delete=models.CASCADE, related_name="steps")
    days_overdue = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=32, choices=StepAction.choices)

    class Meta:
        ordering = ["customer_class", "days_overdue", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer_class", "days_overdue", "action"],
                name="collection_step_unique",
                violation_error_message="This class already has that action on that day.",
            ),
            models.CheckConstraint(
                condition=Q(days_overdue__gte=1, days_overdue__lte=MAX_DAYS_OVERDUE),
                name="collection_step_days_sane",
                violation_error_message=f"Days overdue: between 1 and {MAX_DAYS_OVERDUE:,}.",
            ),
            models.CheckConstraint(
                condition=Q(action__in=StepAction.values),
                name="collection_step_action_valid",
                violation_error_message="Unknown collection action.",
            ),
        ]

    def __str__(self):
        return f"{self.customer_class}: day {self.days_overdue} → {self.get_action_display()}"


class BillingProfile(models.Model):
    """A client's billing settings: its customer class and billing e-mail."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="billing_profile")
    customer_class = models.ForeignKey(CustomerClass, on_delete=models.PROTECT, related_name="profiles")
    billing_email = models.EmailField(blank=True)

    def __str__(self):
        return f"{self.client}: {self.customer_class}"


class Invoice(models.Model):
    """An invoice issued to a client; its status is derived from balances and dates."""

    number = models.CharField(max_length=32, unique=True)
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
        ordering = ["-issued_on", "-number"]
        permissions = [("resend_invoice", "Can resend an invoice to the client")]
        # No index contains ``status``: the nightly recalculation then updates rows in
        # place (PostgreSQL HOT updates, with the table's fillfactor leaving room).
        indexes = [
            models.Index(fields=["client", "issued_on", "number"], name="invoice_client_order_idx"),
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


class InvoiceLine(models.Model):
    """One line of an invoice: description × quantity at a unit price."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=12, decimal_places=2)
    unit_price = MoneyField()
    amount = MoneyField()

    class Meta:
        ordering = ["invoice", "id"]

    def __str__(self):
        return f"{self.description}: {self.quantity} × {self.unit_price}"


# Oldest first, defined once: the order in which a client's open invoices take its payments and
# credits (the Python allocation and the single PostgreSQL statement both read it from here).
ALLOCATION_ORDER = ("issued_on", "number", "id")
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


class CollectionEpisode(models.Model):
    """One delinquency of a client: open from its first overdue day until its overdue balance is paid."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="collection_episodes")
    opened_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-opened_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(closed_on__isnull=True),
                name="collection_episode_one_open_per_client",
                violation_error_message="This client already has an open collection episode.",
            ),
        ]

    def __str__(self):
        return f"{self.client}: from {self.opened_on}"


class CollectionAction(models.Model):
    """A collection step that fired in an episode (exactly once), or the lifting of restrictions."""

    episode = models.ForeignKey(CollectionEpisode, on_delete=models.CASCADE, related_name="actions")
    step = models.ForeignKey(CollectionStep, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=32, choices=CollectionActionKind.choices)
    invoice = models.ForeignKey(Invoice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    fired_on = models.DateField()
    detail = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["episode", "step"],
                name="collection_action_once_per_episode",
                violation_error_message="This step already fired in this episode.",
            ),
        ]

    def __str__(self):
        return f"{self.episode}: {self.action} on {self.fired_on}"
