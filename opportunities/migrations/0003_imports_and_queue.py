"""Missed billing's CSV imports and its queue, in one migration (it replaces the two migrations
that were written side by side, and the empty one that merged them, so a database that has those
three applied migrates on cleanly, and a new one runs this one instead).

Imports: SourceImport, its permissions for Admins, and the nightly detection schedule (a
django-celery-beat PeriodicTask on a crontab in the organisation's time zone, editable in Django
admin). The queue: bulk applies with per-item progress, notifications, the queue's indexes,
trigram search indexes on PostgreSQL, the nightly snooze expiry, and the roles' permissions.
"""

import django.db.models.deletion
from django.conf import settings
from django.conf import settings as django_settings
from django.db import migrations, models

from clients.roles import grant

NIGHTLY = "Missed billing: nightly detection"


def imports_forwards(apps, schema_editor):
    grant(apps, "opportunities", views_to_all=False)
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    at_two, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone=django_settings.TIME_ZONE
    )
    PeriodicTask.objects.get_or_create(
        name=NIGHTLY,
        defaults={
            "task": "opportunities.detect_nightly",
            "crontab": at_two,
            "description": "Reconciles every client's sources against its contracts (02:30 organisation time).",
        },
    )


def imports_backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NIGHTLY).delete()


TRIGRAM_INDEXES = {
    "opp_client_name_trgm_idx": "UPPER(client_name::text) gin_trgm_ops",
    "opp_description_trgm_idx": "UPPER(description::text) gin_trgm_ops",
}
EXPIRE_SNOOZES = "Missed billing: return due snoozes to the queue"


def trigram_forwards(apps, schema_editor):
    """Trigram indexes for the queue search (icontains → UPPER(col) LIKE); PostgreSQL only."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in TRIGRAM_INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON opportunities_opportunity USING gin ({expression})"
        )


def trigram_backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def schedule_forwards(apps, schema_editor):
    """Nightly beat entry that returns snoozed items whose date has come (editable in admin)."""
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")

    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="5", hour="0", day_of_week="*", day_of_month="*", month_of_year="*", timezone=settings.TIME_ZONE
    )
    PeriodicTask.objects.get_or_create(
        name=EXPIRE_SNOOZES,
        defaults={
            "task": "opportunities.expire_snoozes",
            "crontab": crontab,
            "description": "Snoozed missed-billing items whose date has come go back to the open queue.",
        },
    )


def schedule_backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=EXPIRE_SNOOZES).delete()


def roles_forwards(apps, schema_editor):
    """View permissions of the new models for every role; all of them for Admin."""
    grant(apps, "opportunities")


class Migration(migrations.Migration):
    replaces = [
        ("opportunities", "0003_imports_source_import"),
        ("opportunities", "0003_queue_bulk_notifications_indexes"),
        ("opportunities", "0004_merge_imports_and_queue"),
    ]

    dependencies = [
        ("clients", "0002_roles"),
        ("opportunities", "0002_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SourceImport",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("devices", "RMM devices"),
                            ("subscriptions", "Distributor subscriptions"),
                            ("contract_lines", "Contract lines"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting to be checked"),
                            ("validating", "Checking"),
                            ("invalid", "Has errors"),
                            ("ready", "Ready to commit"),
                            ("committing", "Committing"),
                            ("committed", "Committed"),
                            ("failed", "Failed"),
                            ("discarded", "Discarded"),
                        ],
                        default="pending",
                        max_length=20,
                    ),
                ),
                ("file", models.FileField(max_length=300, upload_to="imports/%Y/%m/")),
                ("file_name", models.CharField(help_text="The name of the uploaded file.", max_length=255)),
                ("file_size", models.PositiveBigIntegerField(default=0)),
                ("uploaded_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("committed_at", models.DateTimeField(blank=True, null=True)),
                ("progress", models.PositiveSmallIntegerField(default=0, help_text="0–100, for the progress bar.")),
                ("rows_total", models.PositiveIntegerField(default=0)),
                ("count_new", models.PositiveIntegerField(default=0)),
                ("count_changed", models.PositiveIntegerField(default=0)),
                ("count_gone", models.PositiveIntegerField(default=0)),
                ("count_unchanged", models.PositiveIntegerField(default=0)),
                ("error_count", models.PositiveIntegerField(default=0)),
                (
                    "errors",
                    models.JSONField(blank=True, default=list, help_text="The first errors: [{line, message}]."),
                ),
                ("message", models.CharField(blank=True, max_length=500)),
                ("touched_client_ids", models.JSONField(blank=True, default=list)),
                (
                    "committed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "detection_run",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="opportunities.detectionrun",
                    ),
                ),
                (
                    "uploaded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-uploaded_at", "-id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("source__in", ["devices", "subscriptions", "contract_lines"])),
                        name="import_source_valid",
                        violation_error_message="Unknown import source.",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("progress__lte", 100)),
                        name="import_progress_at_most_100",
                        violation_error_message="Progress is a percentage.",
                    ),
                ],
            },
        ),
        migrations.RunPython(imports_forwards, imports_backwards),
        migrations.CreateModel(
            name="BulkApply",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "idempotency_key",
                    models.CharField(
                        help_text="From the preview form: the same submission twice is one bulk apply.",
                        max_length=64,
                        unique=True,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("queued", "Queued"), ("running", "Running"), ("finished", "Finished")],
                        default="queued",
                        max_length=20,
                    ),
                ),
                ("plan_action", models.CharField(blank=True, max_length=20)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="BulkApplyItem",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "state",
                    models.CharField(
                        choices=[("pending", "Waiting"), ("applied", "Applied"), ("failed", "Not applied")],
                        default="pending",
                        max_length=20,
                    ),
                ),
                ("message", models.CharField(blank=True, max_length=300)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["bulk", "id"],
            },
        ),
        migrations.CreateModel(
            name="Notification",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=300)),
                ("url", models.CharField(help_text="Where the notification leads (site-relative).", max_length=300)),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("read_at", models.DateTimeField(blank=True, null=True)),
                ("emailed_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.AddIndex(
            model_name="opportunity",
            index=models.Index(
                fields=["state", "-severity_rank", "-monthly_impact", "client_name", "id"], name="opp_queue_order_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="opportunity",
            index=models.Index(
                condition=models.Q(("ready_to_apply", True), ("state", "open")),
                fields=["-severity_rank", "-monthly_impact", "client_name", "id"],
                name="opp_ready_queue_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="opportunity",
            index=models.Index(
                fields=["client", "state", "-severity_rank", "-monthly_impact", "client_name", "id"],
                name="opp_client_queue_idx",
            ),
        ),
        migrations.AddField(
            model_name="bulkapply",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="bulkapply",
            name="product",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="clients.product",
            ),
        ),
        migrations.AddField(
            model_name="bulkapplyitem",
            name="bulk",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="items", to="opportunities.bulkapply"
            ),
        ),
        migrations.AddField(
            model_name="bulkapplyitem",
            name="opportunity",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="opportunities.opportunity"
            ),
        ),
        migrations.AddField(
            model_name="notification",
            name="opportunity",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="opportunities.opportunity",
            ),
        ),
        migrations.AddField(
            model_name="notification",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="notifications", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddConstraint(
            model_name="bulkapply",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["queued", "running", "finished"])),
                name="bulk_apply_status_valid",
                violation_error_message="Unknown bulk apply status.",
            ),
        ),
        migrations.AddConstraint(
            model_name="bulkapplyitem",
            constraint=models.UniqueConstraint(
                fields=("bulk", "opportunity"),
                name="bulk_item_once",
                violation_error_message="This item is already in the bulk apply.",
            ),
        ),
        migrations.AddConstraint(
            model_name="bulkapplyitem",
            constraint=models.CheckConstraint(
                condition=models.Q(("state__in", ["pending", "applied", "failed"])),
                name="bulk_item_state_valid",
                violation_error_message="Unknown item state.",
            ),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("read_at__isnull", True)), fields=["user"], name="notification_unread_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="notification",
            constraint=models.UniqueConstraint(
                fields=("user", "opportunity"),
                name="notification_once_per_item",
                violation_error_message="This user was already notified about this item.",
            ),
        ),
        migrations.RunPython(trigram_forwards, trigram_backwards),
        migrations.RunPython(schedule_forwards, schedule_backwards),
        migrations.RunPython(roles_forwards, migrations.RunPython.noop),
    ]
