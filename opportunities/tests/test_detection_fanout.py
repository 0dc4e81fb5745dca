"""A detection run shared by workers: one task per chunk of clients, closed by the last chunk."""

import time

import pytest

from opportunities.models import DetectionChunk, DetectionRun, Opportunity
from opportunities.services import detection
from opportunities.services.detection import fanout

from .factories import ClientFactory, DeviceFactory, DeviceRuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def five_clients_with_a_device_each(monkeypatch):
    monkeypatch.setattr(detection, "CHUNK_SIZE", 2)  # five clients: chunks of 2, 2 and 1
    DeviceRuleFactory()
    return [DeviceFactory(client=ClientFactory()).client for _ in range(5)]


def test_a_shared_run_records_its_chunks_and_is_running_until_they_are_done(five_clients_with_a_device_each):
    run = fanout.start_detection_run(trigger=DetectionRun.Trigger.NIGHTLY)
    assert (run.status, run.chunks_total) == ("running", 3)
    assert list(run.chunks.values_list("number", "status")) == [(0, "pending"), (1, "pending"), (2, "pending")]
    fanout.run_detection_chunk(run_id=run.pk, number=0)
    fanout.run_detection_chunk(run_id=run.pk, number=2)
    run.refresh_from_db()
    assert run.status == "running" and Opportunity.objects.count() == 3  # each chunk commits on its own


def test_the_last_chunk_to_finish_closes_the_run_with_every_count(five_clients_with_a_device_each):
    finished = []
    from opportunities.signals import detection_finished

    def listener(sender, run, created_ids, **kwargs):
        finished.append((run.pk, len(created_ids)))

    detection_finished.connect(listener)
    try:
        run = fanout.start_detection_run(trigger=DetectionRun.Trigger.NIGHTLY)
        for number in (2, 0, 1):
            fanout.run_detection_chunk(run_id=run.pk, number=number)
    finally:
        detection_finished.disconnect(listener)
    run.refresh_from_db()
    assert (run.status, run.clients_examined, run.devices_examined, run.created) == ("succeeded", 5, 5, 5)
    assert run.finished_at and run.duration_ms is not None
    assert finished == [(run.pk, 5)]  # notified once, by the last chunk


def test_a_chunk_delivered_twice_runs_once(five_clients_with_a_device_each):
    run = fanout.start_detection_run(trigger=DetectionRun.Trigger.NIGHTLY)
    for number in (0, 0, 1, 2, 1):
        fanout.run_detection_chunk(run_id=run.pk, number=number)
    run.refresh_from_db()
    assert (run.status, run.clients_examined, run.created) == ("succeeded", 5, 5)


def test_a_failing_chunk_fails_the_run_and_names_the_chunk(five_clients_with_a_device_each, monkeypatch):
    run = fanout.start_detection_run(trigger=DetectionRun.Trigger.NIGHTLY)
    fanout.run_detection_chunk(run_id=run.pk, number=0)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fanout, "detect_chunk", broken)
    fanout.run_detection_chunk(run_id=run.pk, number=1)
    monkeypatch.undo()
    fanout.run_detection_chunk(run_id=run.pk, number=2)
    run.refresh_from_db()
    assert run.status == "failed"
    assert "1 of 3 chunks failed; chunk 1: RuntimeError: disk full" in run.error
    assert DetectionChunk.objects.get(run=run, number=1).status == "failed"


def test_a_run_over_some_clients_keeps_to_them(five_clients_with_a_device_each):
    clients = five_clients_with_a_device_each
    run = fanout.start_detection_run(trigger=DetectionRun.Trigger.MANUAL, client_ids=[clients[0].pk, clients[3].pk])
    for number in range(run.chunks_total):
        fanout.run_detection_chunk(run_id=run.pk, number=number)
    run.refresh_from_db()
    assert (run.status, run.clients_examined) == ("succeeded", 2)
    assert set(Opportunity.objects.values_list("client_id", flat=True)) == {clients[0].pk, clients[3].pk}


def test_a_run_with_no_client_is_closed_at_once():
    run = fanout.start_detection_run(trigger=DetectionRun.Trigger.NIGHTLY)
    assert (run.status, run.chunks_total, run.clients_examined) == ("succeeded", 0, 0)


@pytest.mark.redis
@pytest.mark.postgres
def test_two_worker_threads_share_the_nightly_run(keep_reference_data, transactional_db, monkeypatch):
    from celery.contrib.testing.worker import start_worker

    from billingone.celery import app
    from opportunities import tasks

    monkeypatch.setattr(detection, "CHUNK_SIZE", 3)
    DeviceRuleFactory()
    for _ in range(10):
        DeviceFactory(client=ClientFactory())
    with start_worker(app, perform_ping_check=False, pool="threads", concurrency=2, shutdown_timeout=20):
        run_id = tasks.detect_nightly.delay().get(timeout=30)
        deadline = time.monotonic() + 60
        while DetectionRun.objects.get(pk=run_id).status == "running" and time.monotonic() < deadline:
            time.sleep(0.2)
    run = DetectionRun.objects.get(pk=run_id)
    assert (run.status, run.chunks_total, run.clients_examined, run.created) == ("succeeded", 4, 10, 10)
    assert set(run.chunks.values_list("status", flat=True)) == {"done"}


def test_the_runs_page_shows_how_many_chunks_of_a_running_run_are_done(admin_client_, five_clients_with_a_device_each):
    from django.urls import reverse

    run = fanout.start_detection_run(trigger=DetectionRun.Trigger.NIGHTLY)
    fanout.run_detection_chunk(run_id=run.pk, number=1)
    page = admin_client_.get(reverse("opportunities:runs")).content.decode()
    assert "1 of 3 chunks done" in page
