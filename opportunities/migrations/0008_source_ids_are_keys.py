"""Device and subscription ids become the primary keys (the surrogate ``id`` columns go).

The source's own id never changes between imports, so a device's or subscription's key and
admin URL stay the same when a new export replaces the snapshot; an import writes no
sequence number per row and builds one index fewer. The ids were already unique.

On PostgreSQL, Django adds a ``varchar_pattern_ops`` twin of a character primary key for
``LIKE 'prefix%'``; these columns compare byte by byte (collation "C", migration 0007), so the
primary key already serves such a search, and the twin would only be one more index for every
import to build: it is dropped (and made again if this migration is reversed).
"""

from django.db import migrations, models

TWINS = [
    ("opportunities_device", "device_id"),
    ("opportunities_subscription", "subscription_id"),
]


def _twin(schema_editor, table, column):
    with schema_editor.connection.cursor() as cur:
        cur.execute(
            "SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
            "WHERE i.indrelid = to_regclass(%s) AND ic.relname LIKE %s",
            [table, f"{table}_{column}_%_like"],
        )
        row = cur.fetchone()
    return row[0] if row else None


def drop_twins(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in TWINS:
        if name := _twin(schema_editor, table, column):
            schema_editor.execute(f'DROP INDEX "{name}"')


def make_twins(apps, schema_editor):
    """Reverse: the twin the reversed primary-key change expects to drop."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in TWINS:
        model = apps.get_model("opportunities", "device" if column == "device_id" else "subscription")
        field = model._meta.get_field(column)
        if not _twin(schema_editor, table, column):
            schema_editor.execute(schema_editor._create_like_index_sql(model, field))


def drop_prepared_tables(apps, schema_editor):
    """Previews prepared with the old columns cannot be swapped in: their imports prepare again."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        cur.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace "
            "AND (relname LIKE 'opportunities\\_device\\_next\\_%' OR relname LIKE 'opportunities\\_subscription\\_next\\_%')"
        )
        for (name,) in cur.fetchall():
            schema_editor.execute(f'DROP TABLE "{name}"')


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0007_source_ids_c_collation")]

    operations = [
        migrations.RunPython(drop_prepared_tables, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="device", name="device_unique_device_id"),
        migrations.RemoveConstraint(model_name="subscription", name="subscription_unique_id"),
        migrations.RemoveField(model_name="device", name="id"),
        migrations.RemoveField(model_name="subscription", name="id"),
        migrations.AlterField(
            model_name="device",
            name="device_id",
            field=models.CharField(max_length=100, primary_key=True, serialize=False, verbose_name="device id"),
        ),
        migrations.AlterField(
            model_name="subscription",
            name="subscription_id",
            field=models.CharField(max_length=100, primary_key=True, serialize=False, verbose_name="subscription id"),
        ),
        migrations.RunPython(drop_twins, make_twins),
    ]
