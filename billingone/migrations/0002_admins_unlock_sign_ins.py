"""Admins may see and clear failed sign-in records (django-axes): that is how a user is unlocked."""

from django.db import migrations

from clients.roles import grant_declared, revoke


def forwards(apps, schema_editor):
    grant_declared(apps, "axes")


def backwards(apps, schema_editor):
    revoke(apps, "axes")


class Migration(migrations.Migration):
    dependencies = [
        ("billingone", "0001_health_check_schedule"),
        ("axes", "0010_accessattemptexpiration"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
