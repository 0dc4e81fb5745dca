"""Work whose process died (a killed worker, a killed web process) is shown as interrupted and can
be resumed or discarded; resuming never applies an item twice."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from clients.models import ContractChange
from opportunities.models import BulkApply, BulkApplyItem, OpportunityState, SourceImport
from opportunities.services import bulk as bulk_services

from .factories import ProductFactory, billed_line, raise_quantity_opportunity

ROOT = Path(__file__).resolve().parents[2]
LONG_AGO = timezone.now() - dt.timedelta(hours=1)


def _wait_for(condition, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# --- An import whose process died -----------------------------------------------------------


@pytest.fixture
def stranded_commit(db):
    """What a web process killed during a synchronous commit leaves: committing, and silent."""
    return SourceImport.objects.create(
        source="devices", file_name="rmm.csv", file_size=10, status="committing", heartbeat_at=LONG_AGO
    )


@pytest.mark.django_db
def test_an_import_whose_commit_died_shows_as_interrupted_with_a_way_out(admin_client_, stranded_commit):
    page = admin_client_.get(stranded_commit.get_absolute_url()).content.decode()
    assert 'data-testid="import-stopped"' in page and "Commit again" in page and "Discard" in page
    assert "every 1s" not in page  # no endless progress bar


@pytest.mark.django_db
def test_an_import_still_beating_is_not_interrupted_and_cannot_be_discarded(admin_client_, stranded_commit):
    SourceImport.objects.filter(pk=stranded_commit.pk).update(heartbeat_at=timezone.now())
    response = admin_client_.post(reverse("opportunities:import_discard", args=[stranded_commit.pk]), follow=True)
    assert "being committed; it cannot be discarded now" in response.content.decode()
    assert "Import discarded" not in response.content.decode()
    stranded_commit.refresh_from_db()
    assert stranded_commit.status == "committing"


@pytest.mark.django_db
def test_an_interrupted_import_can_be_discarded(admin_client_, stranded_commit):
    response = admin_client_.post(reverse("opportunities:import_discard", args=[stranded_commit.pk]), follow=True)
    assert "Import discarded; nothing was changed." in response.content.decode()
    stranded_commit.refresh_from_db()
    assert stranded_commit.status == "discarded"


@pytest.mark.django_db
def test_an_interrupted_import_is_committed_again(admin_client_, acme, media):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from opportunities.models import Device
    from opportunities.services.imports import create_import, validate_import

    content = b"device_id,client,hostname,device_type\nd-1,RMM-1,WS-1,server\nd-2,RMM-1,WS-2,server\n"
    imp = validate_import(imp=create_import(source="devices", uploaded_file=SimpleUploadedFile("rmm.csv", content)))
    assert imp.status == "ready"
    SourceImport.objects.filter(pk=imp.pk).update(status="committing", heartbeat_at=LONG_AGO)  # the commit died
    response = admin_client_.post(reverse("opportunities:import_resume", args=[imp.pk]), follow=True)
    assert "Imported 2 rows" in response.content.decode()
    imp.refresh_from_db()
    assert imp.status == "committed" and Device.objects.count() == 2
    response = admin_client_.post(reverse("opportunities:import_resume", args=[imp.pk]), follow=True)
    assert "not interrupted; there is nothing to resume" in response.content.decode()


# --- A bulk apply whose worker is killed ------------------------------------------------------


def _worker(log_path):
    """A real Celery worker in its own process, on the test database and the test broker."""
    db = connection.settings_dict
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        DJANGO_SETTINGS_MODULE="billingone.settings_test",
        BULK_APPLY_THREADS="1",
    )
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process
    command = [sys.executable, "-m", "celery", "-A", "billingone", "worker", "--pool=solo", "--loglevel=INFO"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.mark.redis
@pytest.mark.postgres
def test_a_bulk_apply_whose_worker_is_killed_resumes_only_its_waiting_items(
    keep_reference_data, transactional_db, finance, finance_client, settings, tmp_path
):
    product = ProductFactory()
    items = [raise_quantity_opportunity(line=billed_line(product=product)) for _ in range(300)]
    worker = _worker(tmp_path / "worker.log")
    try:
        _wait_for(lambda: "ready." in (tmp_path / "worker.log").read_text(), "the worker to start")
        bulk, _ = bulk_services.start_bulk_apply(
            opportunity_ids=[o.pk for o in items], idempotency_key="kill-me", actor=finance
        )
        applied = BulkApplyItem.objects.filter(bulk=bulk, state="applied")
        _wait_for(lambda: applied.count() >= 20, "some items to be applied")
        os.killpg(worker.pid, signal.SIGKILL)  # mid-task: no chance to finish or acknowledge
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    done_before = applied.count()
    assert 0 < done_before < 300, "the worker was killed mid-task"
    bulk.refresh_from_db()
    assert bulk.status == "running" and not bulk.stopped  # its heartbeat is still fresh

    settings.WORK_LEASE_SECONDS = 1
    time.sleep(1.5)
    page = finance_client.get(reverse("opportunities:bulk_progress", args=[bulk.pk])).content.decode()
    assert 'data-testid="bulk-stopped"' in page and f"Resume the {300 - done_before} waiting" in page

    from celery.contrib.testing.worker import start_worker

    from billingone.celery import app

    with start_worker(app, perform_ping_check=False, pool="threads", concurrency=1, shutdown_timeout=30):
        response = finance_client.post(reverse("opportunities:bulk_resume", args=[bulk.pk]), follow=True)
        assert "Resumed" in response.content.decode()
        _wait_for(lambda: BulkApply.objects.get(pk=bulk.pk).status == "finished", "the resumed run to finish")
    assert BulkApplyItem.objects.filter(bulk=bulk, state="applied").count() == 300
    assert set(type(items[0]).objects.filter(pk__in=[o.pk for o in items]).values_list("state", flat=True)) == {
        OpportunityState.APPLIED
    }
    # Never applied twice: one contract change per line, each line raised once.
    changes = ContractChange.objects.filter(source=ContractChange.Source.MISSED_BILLING)
    assert changes.count() == 300 and changes.values("line").distinct().count() == 300
