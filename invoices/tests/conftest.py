"""Fixtures for the invoices tests."""

import pytest


def _reference_models():
    # Roles come back by themselves after a flush (clients.roles.restore_roles, post_migrate).
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

    return [IntervalSchedule, CrontabSchedule, PeriodicTask, PeriodicTasks]


def _restore(data):
    from django.core import serializers

    for obj in serializers.deserialize("json", data, handle_forward_references=True):
        obj.save()


@pytest.fixture(scope="session")
def reference_data(django_db_setup, django_db_blocker):
    """The rows data migrations made (roles, beat schedules), put back when the session ends.

    A transactional or live-server test empties every table when it ends; with
    ``--reuse-db`` the roles would otherwise be missing in the next run.
    """
    from django.core import serializers

    with django_db_blocker.unblock():
        objects = [obj for model in _reference_models() for obj in model.objects.all()]
        data = serializers.serialize("json", objects, use_natural_foreign_keys=True)
    yield data
    with django_db_blocker.unblock():
        _restore(data)


@pytest.fixture
def keep_reference_data(reference_data, django_db_blocker):
    """For transactional and browser tests: the roles are there when the test starts and after it."""
    with django_db_blocker.unblock():
        _restore(reference_data)
    yield
    with django_db_blocker.unblock():
        _restore(reference_data)
