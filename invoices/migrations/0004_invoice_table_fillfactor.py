"""PostgreSQL: leave free space in invoice pages so status updates stay in place (HOT).

The nightly recalculation changes only ``status``, which no index contains; with
room on the page PostgreSQL rewrites the row without touching any index. No-op on
other databases.
"""

from django.db import migrations

FILLFACTOR = 60


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE invoices_invoice SET (fillfactor = {FILLFACTOR})")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE invoices_invoice RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("invoices", "0003_nightly_schedules")]
    operations = [migrations.RunPython(forwards, backwards)]
