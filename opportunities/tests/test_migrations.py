"""The squashed migration: a database that ran the three migrations it replaces migrates on cleanly."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

SQUASHED = ("opportunities", "0003_imports_and_queue")
REPLACED = [
    ("opportunities", "0003_imports_source_import"),
    ("opportunities", "0003_queue_bulk_notifications_indexes"),
    ("opportunities", "0004_merge_imports_and_queue"),
]


@pytest.mark.django_db
def test_a_database_at_the_old_head_has_nothing_to_apply():
    recorded = MigrationRecorder.Migration.objects
    # The test database as an existing deployment has it: the three replaced migrations recorded.
    recorded.filter(app=SQUASHED[0], name=SQUASHED[1]).delete()
    for app, name in REPLACED:
        recorded.get_or_create(app=app, name=name)
    executor = MigrationExecutor(connection)
    assert SQUASHED in executor.loader.applied_migrations
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []


@pytest.mark.django_db
def test_a_new_database_runs_the_squashed_migration_and_records_it():
    executor = MigrationExecutor(connection)
    assert executor.loader.replacements[SQUASHED].replaces == REPLACED
    assert MigrationRecorder.Migration.objects.filter(app=SQUASHED[0], name=SQUASHED[1]).exists()
