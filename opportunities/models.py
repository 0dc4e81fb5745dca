"""Missed billing: source snapshots (RMM devices, distributor subscriptions), mapping
rules, detection runs, opportunities and their history."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from clients.models import Client, Contract, ContractLine, Product
from clients.money import MoneyField

# --- Sources -------------------------------------------------------------------------------


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


# --- Mapping rules ------------------------------------------------------------------------


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

    high_threshold = MoneyField(default="500.00", help_text="Monthly impact at or above this is high severity.")
    medium_threshold = MoneyField(default="100.00", help_text="Monthly impact at or above this is medium severity.")
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


# --- Detection runs -----------------------------------------------------------------------


class DetectionRun(models.Model):
    """One reconciliation run: when, how long, what it examined and what it changed."""

    class Trigger(models.TextChoices):
        NIGHTLY = "nightly", "Nightly"
        IMPORT = "import", "After import"
        MANUAL = "manual", "On demand"
        COMMAND = "command", "Command line"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    client_ids = models.JSONField(null=True, blank=True, help_text="Clients in scope; empty means all.")
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    clients_examined = models.PositiveIntegerField(default=0)
    devices_examined = models.PositiveIntegerField(default=0)
    subscriptions_examined = models.PositiveIntegerField(default=0)
    lines_examined = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"Detection run #{self.pk} ({self.get_status_display()})"

    @property
    def examined_anything(self) -> bool:
        return bool(self.devices_examined or self.subscriptions_examined or self.lines_examined)


# --- Opportunities ------------------------------------------------------------------------


class OpportunityKind(models.TextChoices):
    UNBILLED = "unbilled", "Unbilled"
    QUANTITY_GAP = "quantity_gap", "Quantity gap"
    UNMIGRATED = "unmigrated", "Unmigrated product"
    UNMAPPED = "unmapped", "Unmapped"


class OpportunityState(models.TextChoices):
    OPEN = "open", "Open"
    SNOOZED = "snoozed", "Snoozed"
    IGNORED = "ignored", "Ignored"
    REVIEWED = "reviewed", "Reviewed"
    APPLIED = "applied", "Applied"
    RESOLVED = "resolved", "Resolved by itself"


class Severity(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


SEVERITY_RANK = {Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1}


class PlanAction(models.TextChoices):
    ADD_LINE = "add_line", "Add a contract line"
    RAISE_QUANTITY = "raise_quantity", "Raise the line's quantity"
    MIGRATE_PRODUCT = "migrate_product", "Migrate the line to the new product"
    CREATE_RULE = "create_rule", "Create a mapping rule"


class Opportunity(models.Model):
    """A revenue gap for one client, identified by (client, kind, source key)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="opportunities")
    client_name = models.CharField(max_length=200, help_text="Copy of the client's name, for ordering and search.")
    kind = models.CharField(max_length=20, choices=OpportunityKind.choices)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    source_key = models.CharField(
        max_length=200,
        help_text="The identity within the client and kind: 'product:<id>' for product gaps; for unmapped "
        "items what is unmapped, e.g. 'device_type:server' or 'sku:CFQ7TTC0LH18'.",
    )
    state = models.CharField(max_length=20, choices=OpportunityState.choices, default=OpportunityState.OPEN)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    severity_rank = models.PositiveSmallIntegerField(help_text="3 high, 2 medium, 1 low: for ordering.")
    description = models.CharField(max_length=300)
    root_cause = models.TextField()
    suggested_action = models.CharField(max_length=200)
    monthly_impact = MoneyField()
    expected_quantity = models.IntegerField(default=0)
    billed_quantity = models.IntegerField(default=0)

    # The apply plan (empty when it cannot be applied from the queue).
    ready_to_apply = models.BooleanField(default=False)
    not_ready_reason = models.CharField(max_length=300, blank=True)
    plan_action = models.CharField(max_length=20, choices=PlanAction.choices, blank=True)
    plan_contract = models.ForeignKey(Contract, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    plan_line = models.ForeignKey(ContractLine, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    plan_product = models.ForeignKey(Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    plan_from_quantity = models.IntegerField(null=True, blank=True)
    plan_to_quantity = models.IntegerField(null=True, blank=True)
    plan_unit_price = MoneyField(null=True, blank=True)
    plan_monthly_delta = MoneyField(null=True, blank=True)

    snoozed_until = models.DateField(null=True, blank=True)
    ignore_reason = models.CharField(max_length=300, blank=True)
    reviewed_signature = models.CharField(
        max_length=200, blank=True, help_text="The figures when it was marked reviewed; a change reopens it."
    )
    first_detected_at = models.DateTimeField(auto_now_add=True)
    last_detected_at = models.DateTimeField(auto_now_add=True)
    last_run = models.ForeignKey(DetectionRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name_plural = "opportunities"
        permissions = [
            ("apply_opportunity", "Can apply an opportunity's plan to the contract (and bulk apply)"),
            ("snooze_opportunity", "Can snooze an opportunity"),
            ("ignore_opportunity", "Can ignore an opportunity"),
            ("review_opportunity", "Can mark an opportunity reviewed"),
            ("run_detection", "Can run missed-billing detection on demand"),
        ]
        ordering = ["-severity_rank", "-monthly_impact", "client_name", "id"]
        # Queue order per tab (issue 4); trigram search indexes are created on PostgreSQL
        # by migration 0003_queue (raw SQL, skipped on SQLite).
        indexes = [
            models.Index(
                fields=["state", "-severity_rank", "-monthly_impact", "client_name", "id"],
                name="opp_queue_order_idx",
            ),
            models.Index(
                fields=["-severity_rank", "-monthly_impact", "client_name", "id"],
                name="opp_ready_queue_idx",
                condition=Q(state="open", ready_to_apply=True),
            ),
            models.Index(
                fields=["client", "state", "-severity_rank", "-monthly_impact", "client_name", "id"],
                name="opp_client_queue_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "kind", "source_key"],
                name="opportunity_identity",
                violation_error_message="This opportunity already exists for the client.",
            ),
            models.CheckConstraint(
                condition=Q(state__in=OpportunityState.values),
                name="opportunity_state_valid",
                violation_error_message="Unknown state.",
            ),
            models.CheckConstraint(
                condition=~Q(state="snoozed") | Q(snoozed_until__isnull=False),
                name="opportunity_snooze_has_date",
                violation_error_message="A snoozed item needs a date.",
            ),
        ]

    def __str__(self):
        return f"{self.client_name}: {self.description}"

    def get_absolute_url(self):
        return reverse("opportunities:detail", args=[self.pk])

    def figures_signature(self) -> str:
        """The figures that, when they change, reopen a reviewed item."""
        return f"{self.expected_quantity}|{self.billed_quantity}|{self.monthly_impact}|{self.plan_to_quantity}"


class OpportunityEvent(models.Model):
    """One entry in an opportunity's history: a state change or an update, with who and when."""

    class Action(models.TextChoices):
        DETECTED = "detected", "Detected"
        UPDATED = "updated", "Figures updated"
        RESOLVED = "resolved", "Resolved by itself"
        REOPENED = "reopened", "Reopened"
        SNOOZED = "snoozed", "Snoozed"
        UNSNOOZED = "unsnoozed", "Snooze ended"
        IGNORED = "ignored", "Ignored"
        REVIEWED = "reviewed", "Marked reviewed"
        APPLIED = "applied", "Applied"
        APPLY_FAILED = "apply_failed", "Apply refused"

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20, choices=Action.choices)
    from_state = models.CharField(max_length=20, choices=OpportunityState.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=OpportunityState.choices, blank=True)
    note = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    run = models.ForeignKey(DetectionRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.opportunity_id}: {self.get_action_display()}"


# --- CSV imports (issue 3) ---------------------------------------------------------------------


class ImportSource(models.TextChoices):
    DEVICES = "devices", "RMM devices"
    SUBSCRIPTIONS = "subscriptions", "Distributor subscriptions"
    CONTRACT_LINES = "contract_lines", "Contract lines"


class SourceImport(models.Model):
    """One CSV upload of a source snapshot: who, when, the file, its validation and what it changed."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be checked"
        VALIDATING = "validating", "Checking"
        INVALID = "invalid", "Has errors"
        READY = "ready", "Ready to commit"
        COMMITTING = "committing", "Committing"
        COMMITTED = "committed", "Committed"
        FAILED = "failed", "Failed"
        DISCARDED = "discarded", "Discarded"

    source = models.CharField(max_length=20, choices=ImportSource.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=300)
    file_name = models.CharField(max_length=255, help_text="The name of the uploaded file.")
    file_size = models.PositiveBigIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True, db_index=True)
    committed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    committed_at = models.DateTimeField(null=True, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0–100, for the progress bar.")
    rows_total = models.PositiveIntegerField(default=0)
    count_new = models.PositiveIntegerField(default=0)
    count_changed = models.PositiveIntegerField(default=0)
    count_gone = models.PositiveIntegerField(default=0)
    count_unchanged = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The first errors: [{line, message}].")
    message = models.CharField(max_length=500, blank=True)
    touched_client_ids = models.JSONField(default=list, blank=True)
    snapshot_base = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="PostgreSQL: the live snapshot table (oid) the prepared table was compared with.",
    )
    snapshot_clients = models.JSONField(
        default=list, blank=True, editable=False, help_text="PostgreSQL: the clients the prepared table names."
    )
    snapshot_rules = models.CharField(
        max_length=100,
        blank=True,
        editable=False,
        help_text="PostgreSQL: the mapping rules (their signature) the prepared table was mapped with.",
    )
    detection_run = models.ForeignKey(DetectionRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(source__in=ImportSource.values),
                name="import_source_valid",
                violation_error_message="Unknown import source.",
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100),
                name="import_progress_at_most_100",
                violation_error_message="Progress is a percentage.",
            ),
        ]

    def __str__(self):
        return f"{self.get_source_display()} import #{self.pk} ({self.file_name})"

    def get_absolute_url(self):
        return reverse("opportunities:import_detail", args=[self.pk])

    @property
    def is_busy(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.VALIDATING, self.Status.COMMITTING)


# Queue-side models (issue 4): bulk apply and notifications.
from .models_queue import BulkApply, BulkApplyItem, Notification  # noqa: E402, F401
