"""Source snapshots: RMM devices and distributor subscriptions, keyed by the source's own id."""

from django.db import models
from django.db.models import Q

from clients.models import Client, Product


class DeviceType(models.TextChoices):
    WORKSTATION = "workstation", "Workstation"
    SERVER = "server", "Server"
    NETWORK = "network", "Network"
    OTHER = "other", "Other"


class Device(models.Model):
    """One device from the latest RMM export (the snapshot is replaced by each import)."""

    # The RMM's own id is the key: it stays the same across imports (so does the admin URL), and
    # an import writes no surrogate id and builds no extra index.
    device_id = models.CharField("device id", max_length=100, primary_key=True)
    # Snapshot tables are rewritten by million-row imports, so they carry only what queries need:
    # (client, mapped_product) serves lookups by client, and no foreign-key constraint checks each
    # row at commit (it doubled an import). The import resolves every client itself and holds a
    # key-share lock on them while it writes; Django still cascades deletes and SET_NULLs.
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="devices", db_index=False, db_constraint=False
    )
    hostname = models.CharField(max_length=255)
    device_type = models.CharField(max_length=20, choices=DeviceType.choices)
    os = models.CharField("OS", max_length=200, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    # Set by detection (set-based UPDATE): which product this device bills as, and why.
    mapped_product = models.ForeignKey(
        Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False, db_constraint=False
    )
    mapping_rule = models.ForeignKey(
        "MappingRule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    excluded = models.BooleanField(default=False, help_text="Left out of billing by an exclusion rule.")

    class Meta:
        ordering = ["client", "hostname"]
        indexes = [models.Index(fields=["client", "mapped_product"], name="device_client_product_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(device_type__in=DeviceType.values),
                name="device_type_valid",
                violation_error_message="Unknown device type.",
            ),
        ]

    def __str__(self):
        return f"{self.hostname} ({self.device_id})"


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CANCELLED = "cancelled", "Cancelled"
    PENDING = "pending", "Pending"


class Subscription(models.Model):
    """One licence subscription from the latest distributor export (Pax8-style)."""

    subscription_id = models.CharField("subscription id", max_length=100, primary_key=True)  # as Device
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="subscriptions", db_index=False, db_constraint=False
    )
    vendor_sku = models.CharField("vendor SKU", max_length=100)
    product_name = models.CharField(max_length=255)
    quantity = models.IntegerField()
    status = models.CharField(max_length=20, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE)
    term = models.CharField(max_length=40, blank=True, help_text="e.g. monthly, annual")
    mapped_product = models.ForeignKey(
        Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False, db_constraint=False
    )
    mapping_rule = models.ForeignKey(
        "MappingRule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        ordering = ["client", "product_name"]
        indexes = [models.Index(fields=["client", "mapped_product"], name="subscr_client_product_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=0),
                name="subscription_quantity_not_negative",
                violation_error_message="Quantity cannot be negative.",
            ),
        ]

    def __str__(self):
        return f"{self.product_name} × {self.quantity} ({self.subscription_id})"
