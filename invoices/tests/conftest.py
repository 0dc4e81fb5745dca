"""Fixtures for the invoices tests."""

import pytest


@pytest.fixture
def keep_reference_data(django_db_setup, django_db_blocker):
    """Put back the rows data migrations made (roles, beat schedules) after a transactional test.

    A transactional test empties every table when it ends; with ``--reuse-db`` the
    roles would then be missing for every later test. Request this fixture *before*
    ``transactional_db`` so that it restores after the flush.
    """
    from django.contrib.auth.models import Group
    from django.core import serializers
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

    models = [IntervalSchedule, CrontabSchedule, PeriodicTask, PeriodicTasks, Group]
    with django_db_blocker.unblock():
        objects = [obj for model in models for obj in model.objects.all()]
        data = serializers.serialize("json", objects, use_natural_foreign_keys=True)
    yield
    with django_db_blocker.unblock():
        for obj in serializers.deserialize("json", data, handle_forward_references=True):
            obj.save()
