"""The two allocation paths (one PostgreSQL statement; Python on SQLite) pay the same invoices the
same amounts, oldest first, on the same histories."""

import datetime as dt

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.dates import org_today
from invoices.models import Allocation, Invoice, Payment
from invoices.services import payments

from .factories import D, billed, client_in_class

INVOICES = st.lists(
    st.tuples(st.sampled_from(["0.00", "3.00", "9.99", "10.00", "25.50", "80.00", "-5.00"]), st.integers(0, 2)),
    min_size=1,
    max_size=8,
)
PAYMENTS = st.lists(st.sampled_from(["0.01", "3.00", "10.00", "19.99", "50.00", "500.00"]), min_size=1, max_size=4)


def history(invoices):
    """A client with these invoices, several on one day (so the number decides between them)."""
    client = client_in_class()
    day = org_today() - dt.timedelta(days=40)
    for amount, gap in invoices:
        day += dt.timedelta(days=gap)
        billed(client, amount, on=day)
    return client


def pay_in_sql(client, amount, reference):
    payment = payments._lock_client_and_insert_payment_sql(
        client=client, amount=D(amount), received_on=org_today(), method="other", reference=reference, recorded_by=None
    )
    payments._allocate_payment_sql(payment)
    return payment


def pay_in_python(client, amount, reference):
    payment = Payment.objects.create(
        client=client, amount=D(amount), unallocated=D(amount), received_on=org_today(), reference=reference
    )
    payments.allocate(client, new_payment=payment)
    return payment


def outcome(client):
    """Per invoice, in the order they were issued: what it was paid; per payment, what is left."""
    paid = [
        (inv.amount_paid, Allocation.objects.filter(invoice=inv).aggregate(s=Sum("amount"))["s"])
        for inv in Invoice.objects.filter(client=client).order_by("pk")
    ]
    left = list(Payment.objects.filter(client=client).order_by("pk").values_list("unallocated", flat=True))
    return paid, left


@pytest.mark.postgres
@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(invoices=INVOICES, amounts=PAYMENTS)
def test_both_paths_allocate_identically(invoices, amounts):
    in_sql, in_python = history(invoices), history(invoices)
    for n, amount in enumerate(amounts):
        pay_in_sql(in_sql, amount, f"S{n}")
        pay_in_python(in_python, amount, f"P{n}")
    assert outcome(in_sql) == outcome(in_python)


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_one_day_the_lower_number_is_paid_first():
    client = history([("10.00", 0), ("10.00", 0)])
    pay_in_sql(client, "10.00", "S")
    first, second = Invoice.objects.filter(client=client).order_by("number")
    assert (first.amount_paid, second.amount_paid) == (D("10.00"), D("0.00"))


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_statement_path_returns_the_payment_as_the_orm_reads_it():
    client = history([("10.00", 0)])
    payment = pay_in_sql(client, "4.00", "REF-1")
    stored = Payment.objects.get(pk=payment.pk)
    assert [getattr(payment, f.attname) for f in Payment._meta.concrete_fields if f.attname != "unallocated"] == [
        getattr(stored, f.attname) for f in Payment._meta.concrete_fields if f.attname != "unallocated"
    ]
    assert payment._state.adding is False and payment.unallocated == stored.unallocated == D("0.00")
