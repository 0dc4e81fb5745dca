"""SPEC 3.3: every status rule, and the threshold carry-over decision."""

import pytest

from invoices import services
from invoices.models import Invoice
from invoices.models import InvoiceStatus as S

from .factories import D, ago, billed, client_in_class, paid

pytestmark = pytest.mark.django_db


def status(invoice):
    invoice.refresh_from_db()
    return invoice.status


def test_a_new_invoice_is_unpaid_and_due_after_the_class_terms():
    client = client_in_class(terms=14)
    invoice = billed(client, "100.00", on=ago(3))
    assert invoice.status == S.UNPAID
    assert invoice.due_on == ago(3) + (ago(0) - ago(14))
    assert invoice.amount_due == D("100.00")
    assert [(c.from_status, c.to_status, c.source) for c in invoice.status_changes.all()] == [("", "unpaid", "issued")]


def test_part_payment_makes_it_partially_paid_and_full_payment_paid():
    client = client_in_class()
    invoice = billed(client, "100.00")
    paid(client, "40.00")
    assert status(invoice) == S.PARTIALLY_PAID
    paid(client, "60.00")
    assert status(invoice) == S.PAID


def test_an_invoice_is_overdue_on_the_day_after_its_due_date_not_on_it():
    client = client_in_class(terms=10)
    invoice = billed(client, "100.00", on=ago(20))
    services.recalculate_statuses(as_of=invoice.due_on)
    assert status(invoice) == S.UNPAID
    services.recalculate_statuses(as_of=invoice.due_on + (ago(0) - ago(1)))
    assert status(invoice) == S.OVERDUE


def test_a_partially_paid_invoice_past_due_is_overdue():
    client = client_in_class(terms=5)
    invoice = billed(client, "100.00", on=ago(10))
    assert status(invoice) == S.OVERDUE
    paid(client, "30.00")
    assert status(invoice) == S.OVERDUE
    paid(client, "70.00")
    assert status(invoice) == S.PAID


def test_paying_a_later_invoice_in_full_needs_the_earlier_ones_paid_first():
    client = client_in_class()
    first = billed(client, "100.00", on=ago(5))
    second = billed(client, "50.00")
    paid(client, "50.00")
    assert (status(first), status(second)) == (S.PARTIALLY_PAID, S.UNPAID)
    paid(client, "100.00")
    assert (status(first), status(second)) == (S.PAID, S.PAID)


def test_zero_or_negative_invoice_with_nothing_outstanding_is_do_not_pay():
    client = client_in_class()
    assert billed(client, "0.00").status == S.DO_NOT_PAY
    assert billed(client, "-20.00").status == S.DO_NOT_PAY


def test_zero_invoice_after_an_unpaid_one_is_previous_balance_remaining_until_that_is_paid():
    client = client_in_class()
    earlier = billed(client, "80.00", on=ago(2))
    zero = billed(client, "0.00")
    assert zero.status == S.PREVIOUS_BALANCE_REMAINING
    paid(client, "80.00")
    assert (status(earlier), status(zero)) == (S.PAID, S.DO_NOT_PAY)


def test_below_threshold_is_no_payment_required_and_never_overdue():
    client = client_in_class(threshold="25.00", terms=5)
    small = billed(client, "10.00", on=ago(60))
    assert small.status == S.NO_PAYMENT_REQUIRED
    services.recalculate_statuses(as_of=ago(-30))
    assert status(small) == S.NO_PAYMENT_REQUIRED


def test_threshold_carry_over_makes_the_first_invoice_that_crosses_it_payable_for_the_whole_amount_due():
    client = client_in_class(threshold="25.00")
    first = billed(client, "10.00", on=ago(3))
    second = billed(client, "10.00", on=ago(2))
    third = billed(client, "10.00", on=ago(1))
    assert (first.status, second.status) == (S.NO_PAYMENT_REQUIRED, S.NO_PAYMENT_REQUIRED)
    assert (second.carried_in, second.amount_due) == (D("10.00"), D("20.00"))
    assert (third.carried_in, third.amount_due, third.status) == (D("20.00"), D("30.00"), S.UNPAID)
    # Paying the amount due settles the absorbed invoices; they keep No payment required.
    paid(client, "30.00")
    assert (status(first), status(second), status(third)) == (S.NO_PAYMENT_REQUIRED, S.NO_PAYMENT_REQUIRED, S.PAID)
    first.refresh_from_db()
    assert first.amount_paid == D("10.00") and first.settled_by_id == third.pk


def test_an_unpaid_payable_invoice_with_carry_becomes_overdue_for_the_whole_amount_due():
    client = client_in_class(threshold="25.00", terms=5)
    billed(client, "10.00", on=ago(30))
    payable = billed(client, "20.00", on=ago(20))
    assert payable.status == S.OVERDUE and payable.amount_due == D("30.00")


def test_a_payment_made_directly_against_a_no_payment_required_invoice_pays_it():
    client = client_in_class(threshold="25.00")
    small = billed(client, "10.00", on=ago(2))
    paid(client, "10.00")
    assert status(small) == S.PAID
    nxt = billed(client, "10.00")
    assert nxt.carried_in == D("0.00") and nxt.status == S.NO_PAYMENT_REQUIRED


def test_recalculating_twice_changes_nothing_the_second_time():
    client = client_in_class(terms=5)
    billed(client, "100.00", on=ago(30))
    billed(client, "0.00", on=ago(29))
    Invoice.objects.update(status=S.UNPAID)
    first = services.recalculate_statuses(as_of=ago(0))
    assert first["changed"] == 2
    assert services.recalculate_statuses(as_of=ago(0)) == {"changed": 0}


def test_recalculation_in_chunks_gives_the_same_statuses():
    clients = [client_in_class(terms=5) for _ in range(5)]
    invoices = [billed(c, "10.00", on=ago(30)) for c in clients]
    Invoice.objects.update(status=S.UNPAID)
    counts = services.recalculate_statuses(as_of=ago(0), chunk_size=2)
    assert counts == {"overdue": 5, "changed": 5}
    assert {status(i) for i in invoices} == {S.OVERDUE}


def test_earlier_means_issued_earlier_not_a_number_that_sorts_first():
    # Same day; by their text "INV-10" sorts before "INV-9", but INV-9 was issued first.
    client = client_in_class()
    billed(client, "100.00", number="INV-9")
    later = billed(client, "0.00", number="INV-10")
    later.refresh_from_db()
    assert later.status == S.PREVIOUS_BALANCE_REMAINING
