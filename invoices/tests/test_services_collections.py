"""SPEC 3.4: steps fire once per episode; limit/suspend lifted when paid; terminations stay."""

import threading

import pytest
from django.core import mail
from django.db import connection

from clients.models import Client, Contract
from invoices import services
from invoices.models import CollectionAction, CollectionEpisode, InvoiceMessage

from .factories import ago, billed, client_in_class, paid

STEPS = [(1, "resend"), (10, "limit"), (20, "suspend"), (40, "terminate_commitments"), (60, "terminate")]


def service_status(client):
    return Client.objects.get(pk=client.pk).service_status


@pytest.mark.django_db
def test_steps_fire_when_the_oldest_overdue_invoice_reaches_their_day(celery_eager, django_capture_on_commit_callbacks):
    client = client_in_class(terms=10, steps=STEPS)
    invoice = billed(client, "100.00", on=ago(25))  # due 15 days ago
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.run_collections(as_of=ago(0))
    assert counts == {"fired": 2, "opened": 1, "closed": 0}
    assert service_status(client) == "limited"
    assert len(mail.outbox) == 1 and invoice.number in mail.outbox[0].subject
    assert mail.outbox[0].to == ["ap@example.com"]
    reminder = InvoiceMessage.objects.get(invoice=invoice)  # through the outbox: recorded, sent once
    assert (reminder.kind, reminder.status) == ("reminder", "sent")
    assert CollectionEpisode.objects.get(client=client).opened_on == invoice.due_on + (ago(0) - ago(1))


@pytest.mark.django_db
def test_running_collections_twice_fires_nothing_twice(celery_eager, django_capture_on_commit_callbacks):
    client = client_in_class(terms=10, steps=STEPS)
    billed(client, "100.00", on=ago(25))
    with django_capture_on_commit_callbacks(execute=True):
        services.run_collections(as_of=ago(0))
        again = services.run_collections(as_of=ago(0))
    assert again["fired"] == 0
    assert len(mail.outbox) == 1
    assert CollectionAction.objects.filter(step__isnull=False).count() == 2


@pytest.mark.django_db
def test_paying_the_overdue_balance_closes_the_episode_and_lifts_limit_and_suspend():
    client = client_in_class(terms=10, steps=STEPS)
    billed(client, "100.00", on=ago(35))
    services.run_collections(as_of=ago(0))
    assert service_status(client) == "suspended"
    paid(client, "100.00")
    assert service_status(client) == "active"
    episode = CollectionEpisode.objects.get(client=client)
    assert episode.closed_on == ago(0)
    assert episode.actions.filter(action="lifted").exists()


@pytest.mark.django_db
def test_a_new_delinquency_is_a_new_episode_whose_steps_fire_again():
    client = client_in_class(terms=10, steps=[(1, "resend")])
    billed(client, "100.00", on=ago(20))
    services.run_collections(as_of=ago(0))
    paid(client, "100.00")
    billed(client, "50.00", on=ago(15))
    assert services.run_collections(as_of=ago(0))["fired"] == 1
    assert CollectionEpisode.objects.filter(client=client).count() == 2


@pytest.mark.django_db
def test_terminations_are_not_lifted_when_paid():
    client = client_in_class(terms=10, steps=STEPS)
    Contract.objects.create(client=client, number="AGR-1", name="MSA", start_date=ago(400))
    billed(client, "100.00", on=ago(80))
    services.run_collections(as_of=ago(0))
    assert service_status(client) == "terminated"
    contract = Contract.objects.get(number="AGR-1")
    assert contract.end_date == ago(0)
    paid(client, "100.00")
    assert service_status(client) == "terminated"
    assert Contract.objects.get(number="AGR-1").end_date == ago(0)


@pytest.mark.django_db
def test_no_payment_required_invoices_never_start_collections():
    client = client_in_class(threshold="50.00", terms=1, steps=STEPS)
    billed(client, "10.00", on=ago(90))
    assert services.run_collections(as_of=ago(0)) == {"fired": 0, "opened": 0, "closed": 0}


@pytest.mark.postgres
def test_collections_run_twice_at_once_fire_each_step_exactly_once(keep_reference_data, transactional_db, celery_eager):
    clients = [client_in_class(terms=10, steps=STEPS) for _ in range(6)]
    for client in clients:
        billed(client, "100.00", on=ago(45))
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            services.run_collections(as_of=ago(0))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert CollectionEpisode.objects.count() == 6
    assert CollectionAction.objects.filter(step__isnull=False).count() == 6 * 3  # 35 days: resend, limit, suspend
    assert len(mail.outbox) == 6
