"""Property test: random invoices (positive, zero, negative, below threshold) and payments."""

import datetime as dt

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.dates import org_today
from invoices import services
from invoices.models import ALLOCATION_ORDER, Allocation, Invoice, Payment
from invoices.models import InvoiceStatus as S

from .factories import D, billed, client_in_class

AMOUNTS = st.sampled_from(["-40.00", "-5.00", "0.00", "3.00", "9.99", "10.00", "25.50", "80.00", "130.01"])
STEPS = st.lists(st.tuples(st.sampled_from(["invoice", "invoice", "pay"]), AMOUNTS, st.integers(0, 3)), max_size=14)


def expected_status(inv, earlier, today):
    if inv.total <= 0:
        owing = any(e.total > 0 and e.amount_paid < e.total for e in earlier)
        return S.PREVIOUS_BALANCE_REMAINING if owing else S.DO_NOT_PAY
    if inv.amount_paid >= inv.total:
        return S.NO_PAYMENT_REQUIRED if inv.below_threshold and inv.settled_by_id else S.PAID
    if inv.below_threshold:
        return S.NO_PAYMENT_REQUIRED
    if inv.due_on < today:
        return S.OVERDUE
    return S.PARTIALLY_PAID if inv.amount_paid > 0 else S.UNPAID


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_allocations_and_statuses_stay_consistent(steps):
    client = client_in_class(threshold="20.00", terms=10)
    today = org_today()
    issued = today - dt.timedelta(days=60)
    for n, (kind, amount, gap) in enumerate(steps):
        issued += dt.timedelta(days=gap)
        if kind == "invoice":
            billed(client, amount, on=issued)
        elif D(amount) > 0:
            services.record_payment(client, amount=D(amount), received_on=issued, reference=f"P{n}")

    invoices = list(Invoice.objects.filter(client=client).order_by(*ALLOCATION_ORDER))
    payments = list(Payment.objects.filter(client=client))
    # No allocation exceeds its payment or its invoice.
    for p in payments:
        allocated = Allocation.objects.filter(payment=p).aggregate(s=Sum("amount"))["s"] or D(0)
        assert allocated == p.amount - p.unallocated and 0 <= p.unallocated <= p.amount
    for inv in invoices:
        received = Allocation.objects.filter(invoice=inv).aggregate(s=Sum("amount"))["s"] or D(0)
        assert received == inv.amount_paid and 0 <= inv.amount_paid <= max(inv.total, D(0))
        given_out = Allocation.objects.filter(credit_invoice=inv).aggregate(s=Sum("amount"))["s"] or D(0)
        assert given_out == inv.credit_applied and inv.credit_applied <= max(-inv.total, D(0))
    # Oldest first: nothing is paid on an invoice while an earlier one is still open,
    # and no credit is left unused while an invoice is open.
    positives = [i for i in invoices if i.total > 0]
    open_seen = False
    for inv in positives:
        if open_seen:
            assert inv.amount_paid == 0
        if inv.amount_paid < inv.total:
            open_seen = True
    credit_left = sum((p.unallocated for p in payments), D(0)) + sum(
        (-i.total - i.credit_applied for i in invoices if i.total < 0), D(0)
    )
    if open_seen:
        assert credit_left == 0
    # Threshold carry-over bookkeeping.
    for inv in positives:
        assert inv.amount_due == inv.total + inv.carried_in
        assert inv.below_threshold == (inv.amount_due < D("20.00"))
    # Statuses agree with balances.
    for index, inv in enumerate(invoices):
        assert inv.status == expected_status(inv, invoices[:index], today), inv
    # Recalculating (twice) changes nothing.
    assert services.recalculate_statuses(as_of=today) == {"changed": 0}
    assert services.recalculate_statuses(as_of=today) == {"changed": 0}
