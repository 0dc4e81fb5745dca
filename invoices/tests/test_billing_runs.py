"""Billing runs end to end: drafts from contracts, issue with numbers, catch-up of changes, never twice."""

import datetime as dt
from decimal import Decimal

import pytest

from clients.models import BillingTiming, Product
from clients.services import change_contract_line, end_contract_line
from clients.tests.factories import ContractFactory, ContractLineFactory, ProductFactory
from invoices import selectors, services
from invoices.models import (
    BillingRunStatus,
    CustomerClass,
    DraftInvoice,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from invoices.services.billing.rule import expected_amount

pytestmark = pytest.mark.django_db
D = Decimal
JAN, FEB, MAR = dt.date(2027, 1, 1), dt.date(2027, 2, 1), dt.date(2027, 3, 1)


@pytest.fixture(autouse=True)
def go_live(settings):
    settings.BILLING_GO_LIVE = JAN
    CustomerClass.objects.create(name="Standard", payment_terms_days=14, is_default=True)


def workstations(quantity=10, price="40.50", start=dt.date(2026, 6, 1), **contract):
    product = Product.objects.filter(sku="MS-WS").first() or ProductFactory(name="Managed workstation", sku="MS-WS")
    contract = ContractFactory(start_date=start, **contract)
    return ContractLineFactory(contract=contract, product=product, quantity=quantity, unit_price=D(price))


def bill(month, issue=True, **kwargs):
    run = services.start_billing_run(period_start=month, **kwargs)
    if issue:
        run = services.issue_billing_run(run, issued_on=month)
    return run


def lines_of(run, client):
    invoice = Invoice.objects.get(billing_run=run, client=client)
    return [(line.description, line.amount) for line in invoice.lines.order_by("id")]


def test_a_run_drafts_the_months_lines_and_issuing_numbers_them_in_order():
    line = workstations(quantity=82)
    other = workstations(quantity=3)
    run = bill(JAN, issue=False)
    assert run.status == BillingRunStatus.DRAFT
    assert (run.drafts_count, run.drafts_total) == (2, D("3442.50"))
    assert not Invoice.objects.exists()
    run = services.issue_billing_run(run, issued_on=dt.date(2027, 1, 2))
    assert run.status == BillingRunStatus.ISSUED and run.issued_count == 2
    first, second = Invoice.objects.order_by("sequence")
    assert (first.number, second.number) == ("INV-2027-000001", "INV-2027-000002")
    assert first.client == line.contract.client and second.client == other.contract.client
    assert lines_of(run, line.contract.client) == [("Managed workstation — Jan 2027, 82 × 40.50", D("3321.00"))]
    assert first.status == InvoiceStatus.UNPAID
    assert first.due_on == dt.date(2027, 1, 16)  # the default class's 14 days


def test_a_draft_of_an_unchanged_client_is_identical_to_the_invoice_it_becomes():
    line = workstations(start=dt.date(2027, 1, 11))
    run = bill(JAN, issue=False)
    draft = DraftInvoice.objects.get(run=run)
    fields = ("description", "quantity", "unit_price", "amount", "contract_line_id", "period", "days", "service_start")
    drafted = [tuple(getattr(x, f) for f in fields) for x in draft.lines.order_by("id")]
    services.issue_billing_run(run, issued_on=JAN)
    draft.refresh_from_db()
    issued = [tuple(getattr(x, f) for f in fields) for x in draft.invoice.lines.order_by("id")]
    assert drafted == issued and draft.invoice.total == draft.total
    assert draft.invoice.client == line.contract.client


def test_a_second_run_of_an_issued_month_creates_nothing():
    workstations()
    bill(JAN)
    again = bill(JAN, issue=False)
    assert again.drafts_count == 0
    assert Invoice.objects.count() == 1


def test_a_raise_backdated_into_a_billed_month_is_caught_up_on_the_next_invoice():
    line = workstations(quantity=10)
    bill(JAN)
    change_contract_line(line, quantity=15, effective_on=dt.date(2027, 1, 11))
    run = bill(FEB)
    assert lines_of(run, line.contract.client) == [
        ("Managed workstation — Feb 2027, 15 × 40.50", D("607.50")),
        ("Managed workstation, 10 × 40.50, 11–31 Jan 2027 no longer in force: 21/31", D("-274.35")),
        ("Managed workstation, 15 × 40.50, 11–31 Jan 2027: 21/31", D("411.53")),
    ]
    assert bill(FEB, issue=False).drafts_count == 0


def test_a_line_ended_after_billing_in_advance_is_credited():
    line = workstations()
    bill(JAN)
    end_contract_line(line, on=dt.date(2027, 1, 20))
    run = bill(FEB)
    assert lines_of(run, line.contract.client) == [
        ("Managed workstation, 10 × 40.50, 21–31 Jan 2027 no longer in force: 11/31", D("-143.71"))
    ]
    assert Invoice.objects.get(billing_run=run).total == D("-143.71")


def test_in_arrears_a_run_bills_the_month_before():
    # Go-live is January's run; in arrears that run bills December.
    line = workstations(billing_timing=BillingTiming.ARREARS)
    run = bill(JAN)
    assert lines_of(run, line.contract.client) == [("Managed workstation — Dec 2026, 10 × 40.50", D("405.00"))]
    run = bill(FEB)
    assert lines_of(run, line.contract.client) == [("Managed workstation — Jan 2027, 10 × 40.50", D("405.00"))]


def test_billing_starts_after_history_not_billed_by_runs(settings):
    settings.BILLING_GO_LIVE = dt.date(2026, 6, 1)
    line = workstations(start=dt.date(2026, 6, 1))
    client = line.contract.client
    services.issue_invoice(
        client,
        issued_on=dt.date(2026, 11, 1),
        lines=[("Imported", 1, D("405.00"))],
        period_start=dt.date(2026, 11, 1),
        period_end=dt.date(2026, 11, 30),
    )
    run = bill(JAN)
    assert [text for text, _ in lines_of(run, client)] == [
        "Managed workstation — Jan 2027, 10 × 40.50",
        "Managed workstation, 10 × 40.50, 1–31 Dec 2026: 31/31",
    ]


def test_the_billing_profile_override_sets_where_billing_starts():
    line = workstations()
    services.assign_customer_class(line.contract.client, CustomerClass.objects.get(), billing_email="ap@x.example")
    line.contract.client.billing_profile.billing_start = FEB
    line.contract.client.billing_profile.save()
    assert bill(JAN, issue=False).drafts_count == 0
    assert bill(FEB, issue=False).drafts_count == 1


def test_differences_past_the_horizon_are_listed_not_billed(settings):
    settings.BILLING_GO_LIVE = dt.date(2025, 1, 1)
    settings.BILLING_BACKDATE_MONTHS = 3
    workstations(start=dt.date(2026, 8, 1))
    run = bill(JAN, issue=False)
    draft = DraftInvoice.objects.get(run=run)
    months = sorted({line.period for line in draft.lines.all()})
    assert months == [dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1), JAN]
    assert run.summary["past_horizon_count"] == 2  # August and September 2026
    assert {item[2] for item in run.summary["past_horizon"]} == {"2026-08-01", "2026-09-01"}


def test_an_invoice_of_only_zero_price_lines_is_do_not_pay():
    line = workstations(price="0.00")
    run = bill(JAN)
    invoice = Invoice.objects.get(billing_run=run)
    assert lines_of(run, line.contract.client) == [("Managed workstation — Jan 2027, 10 × 0.00", D("0.00"))]
    assert invoice.status == InvoiceStatus.DO_NOT_PAY
    assert bill(FEB, issue=False).drafts_total == D("0.00")


def test_a_client_with_no_billing_email_is_billed_and_listed_as_not_sent():
    workstations()
    run = bill(JAN, issue=False)
    assert DraftInvoice.objects.get(run=run).no_email


def test_a_draft_whose_contract_changed_is_stale_and_skipped_until_rebuilt():
    line = workstations()
    run = bill(JAN, issue=False)
    change_contract_line(line, quantity=12, effective_on=JAN)
    run = services.issue_billing_run(run, issued_on=JAN)
    draft = DraftInvoice.objects.get(run=run)
    assert draft.stale and "changed" in draft.stale_reason
    assert not Invoice.objects.exists() and run.stale_count == 1
    assert run.status == BillingRunStatus.ISSUED


def test_rebuilding_takes_the_contracts_as_they_are_now():
    line = workstations()
    run = bill(JAN, issue=False)
    change_contract_line(line, quantity=12, effective_on=JAN)
    run = services.rebuild_billing_run(run)
    assert run.drafts_total == D("486.00")
    run = services.issue_billing_run(run, issued_on=JAN)
    assert Invoice.objects.get().total == D("486.00")


def test_two_runs_of_one_month_issue_one_set_of_invoices():
    workstations()
    first, second = bill(JAN, issue=False), bill(JAN, issue=False)
    services.issue_billing_run(first, issued_on=JAN)
    second = services.issue_billing_run(second, issued_on=JAN)
    assert Invoice.objects.count() == 1
    assert DraftInvoice.objects.get(run=second).stale_reason.startswith("Another run")


def test_cancelling_discards_the_drafts_and_only_drafts_can_be_cancelled():
    workstations()
    run = services.cancel_billing_run(bill(JAN, issue=False))
    assert run.status == BillingRunStatus.CANCELLED and not run.drafts.exists()
    with pytest.raises(Exception, match="no longer be cancelled"):
        services.cancel_billing_run(bill(JAN))


def test_drafts_are_invisible_to_payments_statuses_ageing_and_collections():
    line = workstations()
    client = line.contract.client
    bill(JAN, issue=False)
    payment = services.record_payment(client, amount=D("100.00"), received_on=dt.date(2026, 12, 1), reference="P1")
    assert payment.unallocated == D("100.00")
    figures = selectors.receivables(today=MAR, client=client)
    assert figures["receivables_total"] == D("0") and all(b["amount"] == 0 for b in figures["ageing"])
    assert services.recalculate_statuses(as_of=FEB)["changed"] == 0
    assert services.run_collections(as_of=MAR) == {"fired": 0, "opened": 0, "closed": 0}
    assert [row["kind"] for row in selectors.client_statement(client)] == ["payment"]
    assert not InvoiceLine.objects.exists()


def test_a_scope_of_chosen_clients_bills_only_them():
    line, other = workstations(), workstations()
    run = bill(JAN, issue=False, client_ids=[other.contract.client_id])
    assert list(run.drafts.values_list("client_id", flat=True)) == [other.contract.client_id]
    assert line.contract.client_id not in set(run.drafts.values_list("client_id", flat=True))


def test_every_month_sums_to_its_expected_amount_after_a_year_of_changes():
    line = workstations(quantity=5)
    months = [dt.date(2027, m, 1) for m in range(1, 7)]
    bill(months[0])
    current = change_contract_line(line, quantity=8, effective_on=dt.date(2027, 1, 17))
    bill(months[1])
    current = change_contract_line(current, unit_price=D("39.99"), effective_on=dt.date(2027, 2, 28))
    bill(months[2])
    end_contract_line(current, on=dt.date(2027, 3, 9))
    for month in months[3:]:
        bill(month)
    billed = selectors.billed_sums([line.contract.client_id], since=months[0])
    assert billed[(line.pk, months[0])] == expected_amount(5, D("40.50"), 16, 31)
    assert billed[(current.replaces_id, months[1])] == expected_amount(8, D("40.50"), 27, 28)
    assert billed[(current.pk, months[2])] == expected_amount(8, D("39.99"), 9, 31)
    assert billed.get((current.pk, months[3]), D("0")) == D("0")
