import pytest
from celery.contrib.testing.worker import start_worker
from django_celery_beat.models import PeriodicTask

from billingone.celery import app


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_health_task_runs_through_a_real_worker_on_redis():
    assert app.conf.broker_url.startswith("redis://")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = app.send_task("billingone.health_check").get(timeout=20)
    assert result["ok"] is True
    assert result["database"] in ("postgresql", "sqlite")


@pytest.mark.django_db
def test_schedules_live_in_the_database_for_admins_to_edit():
    task = PeriodicTask.objects.get(task="billingone.health_check")
    assert task.enabled and task.interval.every == 5
