"""A trigram index on clients' names: the client picker and the client search (``icontains`` and
``istartswith`` → ``UPPER(name) LIKE``) find a few among 100,000 without reading them all.
PostgreSQL only; SQLite reads its small tables whole."""

from django.db import migrations

INDEX = "client_name_trgm_idx"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON clients_client USING gin (UPPER(name::text) gin_trgm_ops)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("clients", "0003_contract_change_source_choices")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
