"""Billing runs: a month's invoices built from contracts as drafts, then numbered and issued.

Drafts live in tables of their own (``DraftInvoice``, ``DraftLine``): no allocation, status,
balance, ageing, statement or collection query ever reads them, so a draft cannot touch money.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from clients.models import Client
from clients.money import ZERO, MoneyField

from .customers import CustomerClass
from .ledger import BilledLine


class BillingRunStatus(models.TextChoices):
    BUILDING = "building", "Building drafts"
    DRAFT = "draft", "Drafts ready"
    ISSUING = "issuing", "Issuing"
    ISSUED = "issued", "Issued"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class BillingRunScope(models.TextChoices):
    ALL = "all", "All clients"
    CUSTOMER_CLASS = "class", "One customer class"
    CLIENTS = "clients", "Chosen clients"


class BillingRun(models.Model):
    """One month's billing: who started it, for whom, and how far it has got."""

    period_start = models.DateField(help_text="First day of the month billed.")
    scope = models.CharField(max_length=16, choices=BillingRunScope.choices, default=BillingRunScope.ALL)
    customer_class = models.ForeignKey(
        CustomerClass, on_delete=models.PROTECT, null=True, blank=True, related_name="billing_runs"
    )
    client_ids = models.JSONField(null=True, blank=True, help_text="The chosen clients (scope: chosen clients).")
    status = models.CharField(max_length=16, choices=BillingRunStatus.choices, default=BillingRunStatus.BUILDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    built_at = models.DateTimeField(null=True, blank=True)
    issued_on = models.DateField(null=True, blank=True, help_text="The issue date of its invoices.")
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Progress: the work is split into chunks of clients (any worker takes one); the last chunk to
    # finish closes the step.
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    drafts_count = models.PositiveIntegerField(default=0)
    drafts_total = MoneyField(default=ZERO)
    stale_count = models.PositiveIntegerField(default=0)
    issued_count = models.PositiveIntegerField(default=0)
    issued_total = MoneyField(default=ZERO)
    summary = models.JSONField(default=dict, blank=True, help_text="Differences past the horizon, and the like.")
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-period_start", "-id"]
        permissions = [("issue_billingrun", "Can issue a billing run's invoices")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BillingRunStatus.values),
                name="billing_run_status_valid",
                violation_error_message="Unknown billing run status.",
            ),
            models.CheckConstraint(
                condition=Q(scope__in=BillingRunScope.values),
                name="billing_run_scope_valid",
                violation_error_message="Unknown billing run scope.",
            ),
        ]

    def __str__(self):
        return f"Billing run {self.period_start:%b %Y} (#{self.pk})"

    def get_absolute_url(self):
        return reverse("invoices:run", args=[self.pk])

    @property
    def is_working(self) -> bool:
        return self.status in (BillingRunStatus.BUILDING, BillingRunStatus.ISSUING)

    @property
    def progress_percent(self) -> int:
        return int(100 * self.chunks_done / self.chunks_total) if self.chunks_total else 0


class BillingRunChunk(models.Model):
    """One chunk of a run's clients for one step (build or issue); any worker may take it. A chunk
    runs only while waiting (a redelivered task finds it done); the last to finish closes the step."""

    class Step(models.TextChoices):
        BUILD = "build", "Build drafts"
        ISSUE = "issue", "Issue"

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="chunks")
    step = models.CharField(max_length=8, choices=Step.choices)
    number = models.PositiveIntegerField()
    first_client_id = models.BigIntegerField()
    last_client_id = models.BigIntegerField()
    client_ids = models.JSONField(
        null=True,
        blank=True,
        help_text="Only these clients (a rebuild of the clients that changed); empty: every client of the "
        "run in the id range.",
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING)
    done_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["run", "step", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "step", "number"],
                name="billing_run_chunk_unique",
                violation_error_message="This run already has that chunk.",
            )
        ]

    def __str__(self):
        return f"{self.run}: {self.step} chunk {self.number}"


class DraftInvoice(models.Model):
    """The invoice a run would issue to one client; no number, invisible to money until issued."""

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="drafts")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    total = MoneyField()
    stale = models.BooleanField(
        default=False, help_text="No longer what the contracts say (changed, or billed by another run): rebuild."
    )
    stale_reason = models.CharField(max_length=300, blank=True)
    no_email = models.BooleanField(default=False, help_text="The client has no billing e-mail: not sent.")
    invoice = models.OneToOneField(
        "invoices.Invoice", on_delete=models.SET_NULL, null=True, blank=True, related_name="draft"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "client__name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "client"],
                name="draft_invoice_one_per_client",
                violation_error_message="This run already has a draft for this client.",
            )
        ]

    def __str__(self):
        return f"Draft for {self.client} ({self.period_start:%b %Y})"

    def get_absolute_url(self):
        return reverse("invoices:draft", args=[self.pk])


class DraftLine(BilledLine):
    """One line of a draft invoice (the same figures an issued line holds)."""

    draft = models.ForeignKey(DraftInvoice, on_delete=models.CASCADE, related_name="lines")
    # A draft never stops a contract line from being deleted: the draft then turns stale.
    contract_line = models.ForeignKey(
        "clients.ContractLine", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["draft", "id"]


class InvoiceSequence(models.Model):
    """A gap-free counter for invoice numbers; its row is locked by the issuing transaction."""

    key = models.CharField(max_length=32, unique=True, default="invoice")
    prefix = models.CharField(
        max_length=20, default="INV-{year}-", help_text='Before the counter; "{year}" becomes the issue year.'
    )
    width = models.PositiveSmallIntegerField(default=6, help_text="Digits of the counter, zero-padded.")
    next_value = models.PositiveBigIntegerField(default=1)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(width__gte=1, width__lte=12),
                name="invoice_sequence_width_sane",
                violation_error_message="Width: between 1 and 12 digits.",
            )
        ]

    def __str__(self):
        return f"{self.key}: next {self.format(self.next_value)}"

    def format(self, value: int, year: int | None = None) -> str:
        prefix = self.prefix.replace("{year}", str(year)) if year is not None else self.prefix
        return f"{prefix}{value:0{self.width}d}"
