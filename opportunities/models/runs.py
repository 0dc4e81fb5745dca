"""Detection runs and CSV imports of the source snapshots: who, when, what they found or changed."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from billingone.background import lease_expired


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
    as_of = models.DateField(null=True, blank=True, help_text="The organisation's date the run judged by.")
    chunks_total = models.PositiveIntegerField(
        default=0, help_text="Chunks of clients queued for workers (0: the run ran in one process)."
    )
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


class DetectionChunk(models.Model):
    """One chunk of a run shared by workers (a range of client ids): whether it ran, what it found.

    The last chunk to finish closes the run; a chunk delivered twice runs once (its row is locked
    and its status checked first)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(DetectionRun, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    first_client_id = models.BigIntegerField()
    last_client_id = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    totals = models.JSONField(default=dict, blank=True, help_text="What the chunk examined and changed.")
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "number"]
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="detection_chunk_once_per_run")]

    def __str__(self):
        return f"Run #{self.run_id}, chunk {self.number} ({self.get_status_display()})"


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
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="When the check or commit last reported; long silence means it stopped."
    )
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
    effective_on = models.DateField(
        null=True,
        blank=True,
        help_text="Contract lines: the date the file's changes take effect (a gone line's last day is the day before).",
    )

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

    @property
    def stopped(self) -> bool:
        """Being checked or committed, by work that stopped beating (a killed worker or web process):
        the page offers to resume or discard it."""
        busy = self.status in (self.Status.VALIDATING, self.Status.COMMITTING)
        return busy and lease_expired(self.heartbeat_at, self.uploaded_at)

    @property
    def progress_key(self) -> str:
        """Where a worker reports how far it got (the cache: outside the import's transaction)."""
        return f"opportunities:import-progress:{self.pk}"
