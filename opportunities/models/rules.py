"""Mapping rules (source item → product) and the severity thresholds of detection."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from clients.models import Client, Product
from clients.money import MoneyField

from .sources import DeviceType

MAX_NOT_SEEN_DAYS = 3650  # ten years: a device unseen for longer is simply unseen
MAX_PRIORITY = 1_000_000


class RuleKind(models.TextChoices):
    DEVICE = "device", "Device → product"
    SUBSCRIPTION = "subscription", "Distributor SKU → product"
    MIGRATION = "migration", "Product → replacement product"


class MappingRule(models.Model):
    """Turns source items into catalogue products, or retires a product in favour of another.

    Lower ``priority`` wins; a client-specific rule beats any global one. An
    exclusion rule (``exclude``) matches items that must not be billed.
    """

    kind = models.CharField(max_length=20, choices=RuleKind.choices)
    client = models.ForeignKey(
        Client,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="mapping_rules",
        help_text="Empty: applies to every client.",
    )
    priority = models.PositiveIntegerField(default=100, help_text="Lower numbers are tried first.")
    device_type = models.CharField(max_length=20, choices=DeviceType.choices, blank=True)
    hostname_pattern = models.CharField(
        max_length=200, blank=True, help_text="Shell-style pattern, case-insensitive, e.g. LAB-*."
    )
    vendor_sku = models.CharField("vendor SKU", max_length=100, blank=True)
    from_product = models.ForeignKey(
        Product,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="migration_rules_from",
        help_text="Migration rules: the retired product.",
    )
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mapping_rules",
        help_text="The product matched items bill as (the replacement, for migrations).",
    )
    exclude = models.BooleanField(default=False, help_text="Matched items are not billed.")
    not_seen_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Devices: exclude those not seen for this many days."
    )
    active = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=RuleKind.values),
                name="rule_kind_valid",
                violation_error_message="Unknown rule kind.",
            ),
            models.CheckConstraint(
                condition=Q(exclude=True) | Q(product__isnull=False),
                name="rule_product_unless_exclusion",
                violation_error_message="A rule that is not an exclusion needs a product.",
            ),
            models.CheckConstraint(
                condition=Q(not_seen_days__isnull=True) | Q(not_seen_days__gte=1, not_seen_days__lte=MAX_NOT_SEEN_DAYS),
                name="rule_not_seen_days_sane",
                violation_error_message=f"Not seen for: between 1 and {MAX_NOT_SEEN_DAYS:,} days (ten years).",
            ),
            models.CheckConstraint(
                condition=Q(priority__lte=MAX_PRIORITY),
                name="rule_priority_sane",
                violation_error_message=f"Priority: at most {MAX_PRIORITY:,}.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="migration") | (Q(from_product__isnull=False) & Q(exclude=False)),
                name="rule_migration_from_product",
                violation_error_message="A migration rule needs the product it replaces.",
            ),
        ]

    def __str__(self):
        scope = self.client.name if self.client_id else "all clients"
        return f"{self.get_kind_display()} #{self.pk} ({scope})"


class DetectionSettings(models.Model):
    """Admin-set severity thresholds (one row)."""

    high_threshold = MoneyField(
        default=Decimal("500.00"), help_text="Monthly impact at or above this is high severity."
    )
    medium_threshold = MoneyField(
        default=Decimal("100.00"), help_text="Monthly impact at or above this is medium severity."
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "detection settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(high_threshold__gte=models.F("medium_threshold")) & Q(medium_threshold__gte=0),
                name="detection_thresholds_ordered",
                violation_error_message="The high threshold must be at least the medium threshold, and both ≥ 0.",
            )
        ]

    def __str__(self):
        return f"High ≥ {self.high_threshold}, medium ≥ {self.medium_threshold}"

    @classmethod
    def current(cls) -> "DetectionSettings":
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj
