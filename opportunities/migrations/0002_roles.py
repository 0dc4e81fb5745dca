"""Give the roles the missed-billing permissions.

Everyone reads the queue; Finance applies, snoozes, ignores and reviews; Admin
also manages mapping rules, imports, thresholds and on-demand detection runs.
"""

from django.db import migrations

from clients.roles import grant_declared, revoke


def forwards(apps, schema_editor):
    grant_declared(apps, "opportunities")  # declared in OpportunitiesConfig.ready()


def backwards(apps, schema_editor):
    revoke(apps, "opportunities")


class Migration(migrations.Migration):
    dependencies = [
        ("opportunities", "0001_sources_rules_runs_opportunities"),
        ("clients", "0002_roles"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
