"""The missed-billing queue: opportunities, their history, bulk applies and notifications."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from billingone.background import lease_expired
from clients.models import Client, Contract, ContractLine, Product
from clients.money import MoneyField

from .runs import DetectionRun

# The queue's order, defined once: the most severe first, then the largest monthly impact, then by
# client name, and the id to make it total. Meta.ordering, the three queue indexes, the pages, the
# bulk preview and admin all take it from here.
QUEUE_ORDER = ("-severity_rank", "-monthly_impact", "client_name", "id")


def figures_signature(figures) -> str:
    """The figures a reviewer signs off; when they change, a reviewed item reopens. ``figures`` is
    any mapping of an opportunity's fields (a row, a model's ``__dict__``)."""
    keys = ("expected_quantity", "billed_quantity", "monthly_impact", "plan_to_quantity")
    return "|".join(str(figures[key]) for key in keys)


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
    applied_from = models.DateField(
        null=True, blank=True, help_text="The date the applied change took effect on the contract."
    )

    class Meta:
        verbose_name_plural = "opportunities"
        permissions = [
            ("apply_opportunity", "Can apply an opportunity's plan to the contract (and bulk apply)"),
            ("snooze_opportunity", "Can snooze an opportunity"),
            ("ignore_opportunity", "Can ignore an opportunity"),
            ("review_opportunity", "Can mark an opportunity reviewed"),
            ("reopen_opportunity", "Can reopen a snoozed, ignored or reviewed opportunity"),
            ("run_detection", "Can run missed-billing detection on demand"),
        ]
        ordering = list(QUEUE_ORDER)
        # The queue's order per tab, over everything, and per client; trigram search indexes are
        # created on PostgreSQL by a migration (raw SQL, skipped on SQLite).
        indexes = [
            models.Index(fields=["state", *QUEUE_ORDER], name="opp_queue_order_idx"),
            models.Index(
                fields=list(QUEUE_ORDER), name="opp_ready_queue_idx", condition=Q(state="open", ready_to_apply=True)
            ),
            models.Index(fields=["client", "state", *QUEUE_ORDER], name="opp_client_queue_idx"),
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
        return figures_signature(self.__dict__)


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


class BulkApplyStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    INTERRUPTED = "interrupted", "Interrupted"
    FINISHED = "finished", "Finished"


class BulkApply(models.Model):
    """One confirmed bulk apply: the items it covers, who asked, and how far it got."""

    Status = BulkApplyStatus

    idempotency_key = models.CharField(
        max_length=64, unique=True, help_text="From the preview form: the same submission twice is one bulk apply."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    plan_action = models.CharField(max_length=20, blank=True)
    product = models.ForeignKey("clients.Product", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="When the worker last reported; long silence means it stopped."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    effective_on = models.DateField(
        null=True,
        blank=True,
        help_text="The date every item takes effect from; empty = each client's own default (first month not billed).",
    )

    class Meta:
        verbose_name_plural = "bulk applies"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BulkApplyStatus.values),
                name="bulk_apply_status_valid",
                violation_error_message="Unknown bulk apply status.",
            )
        ]

    def __str__(self):
        return f"Bulk apply #{self.pk} ({self.get_status_display()})"

    @property
    def stopped(self) -> bool:
        """Interrupted, or running with a worker that stopped reporting: it can be resumed."""
        if self.status == BulkApplyStatus.INTERRUPTED:
            return True
        return self.status == BulkApplyStatus.RUNNING and lease_expired(self.heartbeat_at, self.started_at)


class BulkItemState(models.TextChoices):
    PENDING = "pending", "Waiting"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Not applied"


class BulkApplyItem(models.Model):
    """One opportunity within a bulk apply, with its own outcome."""

    State = BulkItemState

    bulk = models.ForeignKey(BulkApply, on_delete=models.CASCADE, related_name="items")
    opportunity = models.ForeignKey("opportunities.Opportunity", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    message = models.CharField(max_length=300, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["bulk", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["bulk", "opportunity"],
                name="bulk_item_once",
                violation_error_message="This item is already in the bulk apply.",
            ),
            models.CheckConstraint(
                condition=Q(state__in=BulkItemState.values),
                name="bulk_item_state_valid",
                violation_error_message="Unknown item state.",
            ),
        ]

    def __str__(self):
        return f"{self.bulk_id}/{self.opportunity_id}: {self.get_state_display()}"


class SelectedItem(models.Model):
    """One item a person has ticked for a bulk apply. The selection lives here, on the server:
    it survives paging and filtering, and item numbers never travel in a URL."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    opportunity = models.ForeignKey("opportunities.Opportunity", on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "opportunity"],
                name="selected_item_once",
                violation_error_message="This item is already selected.",
            )
        ]

    def __str__(self):
        return f"{self.user_id}: {self.opportunity_id}"


class Notification(models.Model):
    """An in-app message to one user (new high-severity missed billing), also e-mailed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    opportunity = models.ForeignKey(
        "opportunities.Opportunity", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    title = models.CharField(max_length=300)
    url = models.CharField(max_length=300, help_text="Where the notification leads (site-relative).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "opportunity"],
                name="notification_once_per_item",
                violation_error_message="This user was already notified about this item.",
            )
        ]

    def __str__(self):
        return f"{self.user}: {self.title}"
