"""Finance may reopen a snoozed, ignored or reviewed item (undo)."""

from django.db import migrations

from clients.roles import grant_declared


def forwards(apps, schema_editor):
    grant_declared(apps, "opportunities")


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0013_import_heartbeat")]

    operations = [
        migrations.AlterModelOptions(
            name="opportunity",
            options={
                "ordering": ["-severity_rank", "-monthly_impact", "client_name", "id"],
                "verbose_name_plural": "opportunities",
                "permissions": [
                    ("apply_opportunity", "Can apply an opportunity's plan to the contract (and bulk apply)"),
                    ("snooze_opportunity", "Can snooze an opportunity"),
                    ("ignore_opportunity", "Can ignore an opportunity"),
                    ("review_opportunity", "Can mark an opportunity reviewed"),
                    ("reopen_opportunity", "Can reopen a snoozed, ignored or reviewed opportunity"),
                    ("run_detection", "Can run missed-billing detection on demand"),
                ],
            },
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
