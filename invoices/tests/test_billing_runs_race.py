"""PostgreSQL, threads: runs of one month issued at the same moment make one set of invoices, with
numbers that have no gaps and no repeats."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from clients.tests.factories import ContractFactory, ContractLineFactory
from invoices import services
from invoices.models import CustomerClass, DraftInvoice, Invoice, InvoiceSequence

JAN = dt.date(2027, 1, 1)


@pytest.mark.postgres
def test_four_runs_of_one_month_issued_at_once_issue_each_client_once(keep_reference_data, transactional_db, settings):
    settings.BILLING_GO_LIVE = JAN
    CustomerClass.objects.create(name="Standard", payment_terms_days=14, is_default=True)
    clients = []
    for n in range(6):
        contract = ContractFactory(start_date=dt.date(2026, 6, 1))
        ContractLineFactory(contract=contract, quantity=n + 1, unit_price=Decimal("10.00"))
        clients.append(contract.client_id)
    runs = [services.start_billing_run(period_start=JAN) for _ in range(4)]
    barrier = threading.Barrier(len(runs))
    errors = []

    def issue(run):
        try:
            barrier.wait()
            services.issue_billing_run(run, issued_on=JAN)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue, args=(run,)) for run in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(Invoice.objects.values_list("client_id", flat=True)) == sorted(clients)
    positions = sorted(Invoice.objects.values_list("sequence", flat=True))
    assert positions == list(range(1, 7)) and InvoiceSequence.objects.get().next_value == 7
    assert DraftInvoice.objects.filter(invoice__isnull=True, stale=True).count() == 6 * 3
