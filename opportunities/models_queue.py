"""Queue-side models: bulk applies with per-item progress, and in-app notifications."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class BulkApply(models.Model):
    """One confirmed bulk apply: the items it covers, who asked, and how far it got."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"

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
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "finished"]),
                name="bulk_apply_status_valid",
                violation_error_message="Unknown bulk apply status.",
            )
        ]

    def __str__(self):
        return f"Bulk apply #{self.pk} ({self.get_status_display()})"


class BulkApplyItem(models.Model):
    """One opportunity within a bulk apply, with its own outcome."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Not applied"

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
                condition=Q(state__in=["pending", "applied", "failed"]),
                name="bulk_item_state_valid",
                violation_error_message="Unknown item state.",
            ),
        ]

    def __str__(self):
        return f"{self.bulk_id}/{self.opportunity_id}: {self.get_state_display()}"


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
