"""Create the Viewer, Finance and Admin groups and give them the clients app's permissions.

Viewer and Finance may read clients, the catalogue and contracts; Admin may change
them, and manages users and the Celery schedules in Django admin.
"""

from django.db import migrations

from clients.roles import grant_declared, revoke


def forwards(apps, schema_editor):
    for app_label in ("clients", "auth", "django_celery_beat"):
        grant_declared(apps, app_label)


def backwards(apps, schema_editor):
    for app_label in ("clients", "auth", "django_celery_beat"):
        revoke(apps, app_label)


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0001_clients_catalogue_contracts"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
