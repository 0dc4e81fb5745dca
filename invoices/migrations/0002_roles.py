"""Give the roles the invoices app's permissions.

Viewer reads invoices, payments and collections; Finance also records payments
and resends invoices; Admin may change everything, including customer classes and
collection steps (in Django admin).
"""

from django.db import migrations

from clients.roles import grant_declared, revoke


def forwards(apps, schema_editor):
    grant_declared(apps, "invoices")  # declared in InvoicesConfig.ready()


def backwards(apps, schema_editor):
    revoke(apps, "invoices")


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0001_invoices_payments_statuses_collections"),
        ("clients", "0002_roles"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
