"""The set-based plain month (PostgreSQL): a client whose earlier months are settled is billed by
one INSERT … SELECT, and gets exactly the drafts and invoices the rule in Python gives it."""

import datetime as dt
from decimal import Decimal

import pytest

from clients.models import BillingTiming, ContractLine
from clients.services import change_contract_line
from clients.tests.factories import ClientFactory, ContractFactory, ContractLineFactory, ProductFactory
from invoices import services
from invoices.models import BillingProfile, CustomerClass, DraftInvoice, DraftLine, Invoice, InvoiceLine
from invoices.services.billing import plain
from invoices.services.billing.compute import billing_calendar

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

DEC, JAN = dt.date(2026, 12, 1), dt.date(2027, 1, 1)
FIELDS = ("description", "quantity", "unit_price", "amount", "contract_line_id", "period", "service_start")
FIELDS += ("service_end", "days", "days_in_month", "adjustment")


@pytest.fixture
def book(settings):
    """Clients of every shape, billed for December by a run; nothing changed since."""
    settings.BILLING_GO_LIVE = DEC
    settings.BILLING_SETTLED_MARGIN_SECONDS = 0
    standard = CustomerClass.objects.create(name="Standard", payment_terms_days=14, is_default=True)
    workstation = ProductFactory(name="Managed workstation")
    backup = ProductFactory(name="Ünïcode backup — “cloud”")
    shapes = [
        [(workstation, 10, "40.50", None, None)],
        [(workstation, 3, "12.34", None, dt.date(2027, 1, 20)), (backup, 1, "0.00", None, None)],  # ends mid-Jan
        [(backup, 2, "9.99", None, dt.date(2027, 1, 1)), (backup, 2, "9.99", None, None)],  # one day; a twin
        [(workstation, 0, "40.50", None, None), (workstation, 7, "0.01", None, dt.date(2026, 12, 31))],
    ]
    clients = []
    for index, shape in enumerate(shapes * 2):
        timing = BillingTiming.ARREARS if index >= len(shapes) else BillingTiming.ADVANCE
        client = ClientFactory()
        contract = ContractFactory(client=client, start_date=dt.date(2026, 11, 1), billing_timing=timing)
        for product, quantity, price, start, end in shape:
            ContractLineFactory(
                contract=contract,
                product=product,
                quantity=quantity,
                unit_price=Decimal(price),
                start_date=start or contract.start_date,
                end_date=end,
            )
        if index % 2:
            BillingProfile.objects.create(client=client, customer_class=standard, billing_email=f"ap{index}@x.example")
        clients.append(client)
    ids = [client.pk for client in clients]
    services.issue_billing_run(services.start_billing_run(period_start=DEC, client_ids=ids), issued_on=DEC)
    return ids


def _drafts(run):
    drafts = DraftInvoice.objects.filter(run=run).order_by("client_id")
    return [
        (d.client_id, d.total, d.no_email, list(DraftLine.objects.filter(draft=d).order_by("id").values_list(*FIELDS)))
        for d in drafts
    ]


def test_settled_clients_get_the_drafts_the_rule_gives(book, settings):
    calendar = billing_calendar(JAN)
    assert plain.settled_clients(book, calendar) == dict.fromkeys(book, DEC)
    fast = services.start_billing_run(period_start=JAN, client_ids=book)
    settings.BILLING_SETTLED_MARGIN_SECONDS = 10**6  # every client through the rule in Python
    assert plain.settled_clients(book, calendar) == {}
    slow = services.start_billing_run(period_start=JAN, client_ids=book)
    assert _drafts(fast) == _drafts(slow)
    assert len(_drafts(fast)) == len(book)
    texts = [line[0] for _c, _t, _e, lines in _drafts(fast) for line in lines]
    assert "Managed workstation — Jan 2027, 3 × 12.34, 1–20 Jan 2027: 20/31" in texts
    assert "Ünïcode backup — “cloud” — Jan 2027, 2 × 9.99, 1 Jan 2027: 1/31" in texts
    assert "Managed workstation — Dec 2026, 10 × 40.50" in texts  # in arrears: December


def test_issued_plain_drafts_become_identical_invoices(book):
    run = services.start_billing_run(period_start=JAN, client_ids=book)
    held = _drafts(run)
    run = services.issue_billing_run(run, issued_on=JAN)
    assert run.issued_count == len(book) and run.stale_count == 0
    invoices = Invoice.objects.filter(billing_run=run).order_by("client_id")
    issued = [
        (i.client_id, i.total, list(InvoiceLine.objects.filter(invoice=i).order_by("id").values_list(*FIELDS)))
        for i in invoices
    ]
    assert issued == [(client, total, lines) for client, total, _no_email, lines in held]
    assert list(invoices.values_list("sequence", flat=True)) == sorted(invoices.values_list("sequence", flat=True))
    assert plain.settled_clients(book, billing_calendar(JAN)) == dict.fromkeys(book, JAN)
    assert services.start_billing_run(period_start=JAN, client_ids=book).drafts_count == 0


def test_a_client_changed_since_its_last_invoice_goes_through_the_rule(book):
    line = ContractLine.objects.filter(contract__client_id=book[0]).get()
    change_contract_line(line, quantity=12, effective_on=dt.date(2026, 12, 11))  # backdated into December
    assert book[0] not in plain.settled_clients(book, billing_calendar(JAN))
    run = services.start_billing_run(period_start=JAN, client_ids=book)
    lines = DraftLine.objects.filter(draft__run=run, draft__client_id=book[0])
    assert lines.filter(adjustment=True).count() == 2  # December's 11–31 credited at 10, charged at 12


def test_a_settled_draft_that_no_longer_matches_is_stale_not_issued(book):
    run = services.start_billing_run(period_start=JAN, client_ids=book)
    DraftLine.objects.filter(draft__run=run, draft__client_id=book[0]).update(amount=Decimal("1.00"))
    run = services.issue_billing_run(run, issued_on=JAN)
    draft = DraftInvoice.objects.get(run=run, client_id=book[0])
    assert draft.stale and draft.invoice_id is None and "rebuild" in draft.stale_reason
    assert run.issued_count == len(book) - 1


def test_a_later_run_for_an_earlier_month_does_not_hide_a_change(book, settings):
    """Settled is judged from when the latest month was issued, not from the newest invoice: a
    November catch-up issued after December's must not make a December change look billed."""
    settings.BILLING_GO_LIVE = dt.date(2026, 11, 1)
    line = ContractLine.objects.filter(contract__client_id=book[0]).get()
    change_contract_line(line, quantity=12, effective_on=dt.date(2026, 11, 20))  # November and December
    november = services.start_billing_run(period_start=dt.date(2026, 11, 1), client_ids=[book[0]])
    services.issue_billing_run(november, issued_on=DEC)
    assert book[0] not in plain.settled_clients(book, billing_calendar(JAN))
    run = services.start_billing_run(period_start=JAN, client_ids=[book[0]])
    periods = set(DraftLine.objects.filter(draft__run=run, adjustment=True).values_list("period", flat=True))
    assert periods == {DEC}  # December's 20–31 corrected on January's invoice
