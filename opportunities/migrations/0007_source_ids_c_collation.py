"""PostgreSQL: device and subscription ids compare byte by byte (collation "C").

A million-row import builds the unique index on the ids in one sort; under a language's
collation PostgreSQL sorts text without abbreviated keys and calls the C library for every
comparison: the index took twice as long. Ids are opaque: no one reads them alphabetically,
and equality is the same. (Host names keep the database's collation: mapping rules match them
case-insensitively, beyond ASCII too. SQLite has no such collation and compares bytes
already, so this is PostgreSQL only; the model fields do not name a collation, and an
AlterField on these columns must keep it.)
"""

from django.db import migrations

COLUMNS = [
    ("opportunities_device", "device_id", "varchar(100)"),
    ("opportunities_subscription", "subscription_id", "varchar(100)"),
]


def collate(collation):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, column, kind in COLUMNS:
            schema_editor.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE {kind} COLLATE "{collation}"')

    return run


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0006_import_snapshot")]

    operations = [migrations.RunPython(collate("C"), collate("default"))]
