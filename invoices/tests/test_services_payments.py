"""SPEC 3.2: oldest first, leftover credit, negative invoices as credit, idempotent references."""

import pytest
from django.core.exceptions import ValidationError

from invoices import selectors, services
from invoices.models import Allocation, Payment

from .factories import D, ago, billed, client_in_class, paid

pytestmark = pytest.mark.django_db


def test_a_payment_pays_the_oldest_invoices_first():
    client = client_in_class()
    old = billed(client, "100.00", on=ago(9))
    mid = billed(client, "50.00", on=ago(5))
    new = billed(client, "70.00", on=ago(1))
    payment = paid(client, "120.00")
    got = [(a.invoice_id, a.amount) for a in Allocation.objects.filter(payment=payment).order_by("id")]
    assert got == [(old.pk, D("100.00")), (mid.pk, D("20.00"))]
    new.refresh_from_db()
    assert new.amount_paid == D("0.00")


def test_same_day_invoices_go_in_number_order():
    client = client_in_class()
    a = billed(client, "10.00")
    b = billed(client, "10.00")
    paid(client, "10.00")
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.amount_paid, b.amount_paid) == (D("10.00"), D("0.00"))


def test_what_is_left_over_stays_as_credit_and_pays_the_next_invoice():
    client = client_in_class()
    billed(client, "40.00", on=ago(3))
    payment = paid(client, "100.00")
    assert payment.unallocated == D("60.00")
    assert selectors.client_credit(client) == D("60.00")
    nxt = billed(client, "25.00")
    assert nxt.status == "paid"
    payment.refresh_from_db()
    assert payment.unallocated == D("35.00")


def test_a_negative_invoice_is_a_credit_that_pays_earlier_open_invoices():
    client = client_in_class()
    earlier = billed(client, "30.00", on=ago(3))
    credit = billed(client, "-50.00")
    earlier.refresh_from_db()
    credit.refresh_from_db()
    assert earlier.status == "paid"
    assert credit.credit_applied == D("30.00") and credit.status == "do_not_pay"
    assert Allocation.objects.get(credit_invoice=credit).amount == D("30.00")
    assert selectors.client_credit(client) == D("20.00")


def test_the_same_reference_twice_records_one_payment():
    client = client_in_class()
    billed(client, "100.00")
    first = paid(client, "40.00", reference="BANK-1")
    again = paid(client, "40.00", reference="BANK-1")
    assert again.pk == first.pk
    assert Payment.objects.count() == 1 and Allocation.objects.count() == 1


@pytest.mark.parametrize(
    "amount, received, field",
    [("0", 0, "amount"), ("-5", 0, "amount"), ("10", -1, "received_on"), ("abc", 0, "amount")],
)
def test_bad_payments_are_refused_with_a_message_and_change_nothing(amount, received, field):
    client = client_in_class()
    billed(client, "100.00")
    with pytest.raises(ValidationError) as exc:
        services.record_payment(client, amount=amount, received_on=ago(received), reference="X-1")
    assert field in exc.value.message_dict
    assert Payment.objects.count() == 0


def test_money_is_never_a_float():
    client = client_in_class()
    with pytest.raises(TypeError):
        services.record_payment(client, amount=10.5, received_on=ago(0), reference="F")


def test_the_statement_has_a_running_balance_in_date_order():
    client = client_in_class()
    billed(client, "100.00", on=ago(20))
    paid(client, "60.00", on=ago(10))
    billed(client, "-15.00", on=ago(5))
    rows = selectors.client_statement(client)
    assert [(r["kind"], r["balance"]) for r in rows] == [
        ("invoice", D("100.00")),
        ("payment", D("40.00")),
        ("invoice", D("25.00")),
    ]
