"""Nightly jobs: management commands, and the Celery tasks through a real worker on Redis."""

import pytest
from django.core.management import CommandError, call_command

from invoices.models import Invoice, InvoiceStatus

from .factories import ago, billed, client_in_class


@pytest.mark.django_db
def test_the_recalculate_command_sets_statuses_and_is_idempotent(capsys):
    invoice = billed(client_in_class(terms=10), "100.00", on=ago(5))
    call_command("recalculate_invoice_statuses", "--as-of", ago(-6).isoformat(), "--chunk-size", "1")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OVERDUE
    assert "1 changed (overdue: 1)" in capsys.readouterr().out
    call_command("recalculate_invoice_statuses", "--as-of", ago(-6).isoformat())
    assert "0 changed" in capsys.readouterr().out


@pytest.mark.django_db
def test_the_collections_command_fires_steps_once(capsys):
    billed(client_in_class(terms=10, steps=[(1, "limit")]), "100.00", on=ago(15))
    call_command("run_collections")
    assert "1 step(s) fired, 1 episode(s) opened" in capsys.readouterr().out
    call_command("run_collections")
    assert "0 step(s) fired, 0 episode(s) opened" in capsys.readouterr().out


def test_a_bad_as_of_is_refused():
    with pytest.raises(CommandError, match="--as-of must be a date"):
        call_command("recalculate_invoice_statuses", "--as-of", "tomorrow")


@pytest.mark.django_db
def test_the_beat_schedules_exist_in_the_organisations_time_zone(settings):
    from django_celery_beat.models import PeriodicTask

    tasks = {t.task: t for t in PeriodicTask.objects.select_related("crontab")}
    for name in ["invoices.recalculate_statuses", "invoices.run_collections"]:
        assert tasks[name].crontab is not None
        assert str(tasks[name].crontab.timezone) == settings.TIME_ZONE


@pytest.mark.redis
@pytest.mark.postgres
def test_the_nightly_tasks_run_in_chunks_on_a_real_worker(keep_reference_data, transactional_db):
    from celery.contrib.testing.worker import start_worker

    from billingone.celery import app
    from invoices import tasks

    invoices = [billed(client_in_class(terms=10), "10.00", on=ago(20)) for _ in range(5)]
    Invoice.objects.update(status=InvoiceStatus.UNPAID)
    with start_worker(app, perform_ping_check=False, pool="threads", concurrency=2, shutdown_timeout=20):
        assert tasks.recalculate_statuses.delay(chunk_size=2).get(timeout=30) == 3  # chunks queued
        # The chunks run on the worker; wait until every status is set.
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(Invoice.objects.get(pk=i.pk).status == InvoiceStatus.OVERDUE for i in invoices):
                break
            time.sleep(0.2)
    assert {Invoice.objects.get(pk=i.pk).status for i in invoices} == {InvoiceStatus.OVERDUE}
