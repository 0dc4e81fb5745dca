"""Clients, the product catalogue and contracts: the core both other apps build on."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse

from .dates import org_today
from .money import ZERO, MoneyField


class ServiceStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    LIMITED = "limited", "Limited"
    SUSPENDED = "suspended", "Suspended"
    TERMINATED = "terminated", "Terminated"


class Client(models.Model):
    """A client company the MSP manages and bills."""

    name = models.CharField(max_length=200)
    psa_id = models.CharField("PSA id", max_length=64, blank=True, help_text="Id in the PSA (contracts).")
    rmm_id = models.CharField("RMM id", max_length=64, blank=True, help_text="Id in the RMM (devices).")
    distributor_id = models.CharField(
        "distributor id", max_length=64, blank=True, help_text="Id at the distributor (subscriptions)."
    )
    service_status = models.CharField(max_length=16, choices=ServiceStatus.choices, default=ServiceStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["service_status", "name"], name="client_status_name_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["psa_id"],
                condition=~Q(psa_id=""),
                name="client_unique_psa_id",
                violation_error_message="Another client already has this PSA id.",
            ),
            models.UniqueConstraint(
                fields=["rmm_id"],
                condition=~Q(rmm_id=""),
                name="client_unique_rmm_id",
                violation_error_message="Another client already has this RMM id.",
            ),
            models.UniqueConstraint(
                fields=["distributor_id"],
                condition=~Q(distributor_id=""),
                name="client_unique_distributor_id",
                violation_error_message="Another client already has this distributor id.",
            ),
            models.CheckConstraint(
                condition=Q(service_status__in=ServiceStatus.values),
                name="client_service_status_valid",
                violation_error_message="Unknown service status.",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("clients:detail", args=[self.pk])


class ProductCategory(models.TextChoices):
    MANAGED_DEVICE = "managed_device", "Managed device"
    LICENCE = "licence", "Licence"
    SERVICE = "service", "Service"
    HARDWARE = "hardware", "Hardware"


class Product(models.Model):
    """A catalogue item the MSP can bill on a contract line."""

    sku = models.CharField("SKU", max_length=64, unique=True)
    name = models.CharField(max_length=200)
    unit_price = MoneyField(help_text="List price per unit per month.")
    category = models.CharField(max_length=20, choices=ProductCategory.choices)
    retired = models.BooleanField(default=False, help_text="No longer sold; existing lines should migrate.")

    class Meta:
        ordering = ["name", "sku"]
        constraints = [
            models.CheckConstraint(
                condition=Q(unit_price__gte=0),
                name="product_unit_price_not_negative",
                violation_error_message="A list price cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(category__in=ProductCategory.values),
                name="product_category_valid",
                violation_error_message="Unknown product category.",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.sku})"


class ContractQuerySet(models.QuerySet):
    def in_force(self, on: dt.date | None = None):
        """Contracts that bill on that date (the organisation's today by default)."""
        on = on or org_today()
        return self.filter(active=True, start_date__lte=on).filter(Q(end_date__isnull=True) | Q(end_date__gte=on))


class BillingTiming(models.TextChoices):
    ADVANCE = "advance", "In advance (the run's month)"
    ARREARS = "arrears", "In arrears (the month before the run's)"


class Contract(models.Model):
    """A recurring agreement (PSA) under which a client is billed."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="contracts")
    number = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)
    billing_timing = models.CharField(max_length=8, choices=BillingTiming.choices, default=BillingTiming.ADVANCE)

    objects = ContractQuerySet.as_manager()

    class Meta:
        ordering = ["client__name", "start_date", "number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="contract_end_after_start",
                violation_error_message="A contract cannot end before it starts.",
            ),
            models.CheckConstraint(
                condition=Q(billing_timing__in=BillingTiming.values),
                name="contract_billing_timing_valid",
                violation_error_message="Unknown billing timing.",
            ),
        ]

    def __str__(self):
        return f"{self.number} — {self.name}"

    def is_in_force(self, on: dt.date | None = None) -> bool:
        on = on or org_today()
        return self.active and self.start_date <= on and (self.end_date is None or self.end_date >= on)


LINE_TOTAL = ExpressionWrapper(
    F("quantity") * F("unit_price"), output_field=DecimalField(max_digits=18, decimal_places=2)
)


class ContractLineQuerySet(models.QuerySet):
    def in_force(self, on: dt.date | None = None):
        """Lines in force on that date, of contracts that bill on that date."""
        on = on or org_today()
        return self.filter(
            Q(end_date__isnull=True) | Q(end_date__gte=on),
            Q(contract__end_date__isnull=True) | Q(contract__end_date__gte=on),
            start_date__lte=on,
            contract__active=True,
            contract__start_date__lte=on,
        )

    def overlapping(self, first: dt.date, last: dt.date):
        """Line segments in force on at least one day from ``first`` to ``last``."""
        return self.filter(Q(end_date__isnull=True) | Q(end_date__gte=first), start_date__lte=last)

    def monthly_total(self) -> Decimal:
        return self.aggregate(total=Coalesce(Sum(LINE_TOTAL), ZERO))["total"]


class ContractLine(models.Model):
    """One recurring billed item on a contract: product × quantity at a unit price, from its start
    date to its end date (inclusive; none = open). A change makes a new dated segment that
    ``replaces`` the one before (``clients.services.change_contract_line``), so the history of
    what was in force on any day stays readable."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="contract_lines")
    quantity = models.IntegerField()
    unit_price = MoneyField(help_text="Price per unit per month on this contract.")
    external_id = models.CharField(max_length=64, blank=True, help_text="Line id in the PSA, if any.")
    start_date = models.DateField(help_text="First day in force (by default, the contract's start).")
    end_date = models.DateField(null=True, blank=True, help_text="Last day in force, inclusive; empty = open.")
    replaces = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        help_text="The segment this one continues after a dated change.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ContractLineQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "product__name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=0),
                name="contract_line_quantity_not_negative",
                violation_error_message="Quantity cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0),
                name="contract_line_unit_price_not_negative",
                violation_error_message="Unit price cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="contract_line_end_after_start",
                violation_error_message="A contract line cannot end before it starts.",
            ),
        ]
        indexes = [models.Index(fields=["contract", "start_date"], name="contract_line_dates_idx")]

    def __str__(self):
        return f"{self.contract.number}: {self.quantity} × {self.product.sku}"

    def save(self, *args, **kwargs):
        if self.start_date is None and self.contract_id:
            self.start_date = self.contract.start_date
        super().save(*args, **kwargs)

    def is_in_force(self, on: dt.date) -> bool:
        return self.start_date <= on and (self.end_date is None or self.end_date >= on)

    @property
    def monthly_total(self) -> Decimal:
        return self.quantity * self.unit_price


class ContractChange(models.Model):
    """Audit trail: who changed which contract or line, when, and how."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        DELETED = "deleted", "Deleted"
        LINE_ADDED = "line_added", "Line added"
        LINE_CHANGED = "line_changed", "Line changed"
        LINE_REMOVED = "line_removed", "Line removed"
        ENDED = "ended", "Ended"

    class Source(models.TextChoices):
        CONSOLE = "console", "Console"
        ADMIN = "admin", "Admin"
        IMPORT = "import", "Import"
        MISSED_BILLING = "missed billing", "Missed billing"
        COLLECTIONS = "collections", "Collections"

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="changes")
    line = models.ForeignKey(ContractLine, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=20, choices=Action.choices)
    detail = models.CharField(max_length=500, help_text="What changed, in words.")
    source = models.CharField(max_length=64, choices=Source.choices, default=Source.CONSOLE)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.contract.number}: {self.get_action_display()} — {self.detail}"


class ServiceStatusChange(models.Model):
    """Audit trail of a client's service status: who or what changed it, when, why."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=ServiceStatus.choices)
    to_status = models.CharField(max_length=16, choices=ServiceStatus.choices)
    reason = models.CharField(max_length=500)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.client}: {self.from_status} → {self.to_status}"
