"""Property test: whatever dated changes are made to a line, and whichever months are run (some
skipped, caught up later), afterwards every (segment, month) has billed exactly its expected amount."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.models import BillingTiming, ContractLine
from clients.services import change_contract_line, end_contract_line
from clients.tests.factories import ContractFactory, ContractLineFactory
from invoices import selectors, services
from invoices.models import CustomerClass
from invoices.services.billing.periods import add_months, days_in, month_end
from invoices.services.billing.rule import expected_amount

JAN = dt.date(2027, 1, 1)
PRICES = st.sampled_from(["0.00", "9.99", "40.50", "12.34", "100.00"])
CHANGE = st.tuples(
    st.sampled_from(["change", "change", "change", "end"]),
    st.integers(-40, 30),  # days from the first of this month (negative: backdated)
    st.integers(0, 30),
    PRICES,
)
MONTH = st.tuples(st.lists(CHANGE, max_size=2), st.booleans())  # (changes, run this month?)


def _days_in_force(segment: ContractLine, month: dt.date) -> int:
    first, last = max(segment.start_date, month), min(segment.end_date or month_end(month), month_end(month))
    return max((last - first).days + 1, 0)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    months=st.lists(MONTH, min_size=1, max_size=6),
    timing=st.sampled_from(BillingTiming.values),
    margin=st.sampled_from([0, 600]),  # 0: settled months bill through the set-based plain month
)
def test_every_segment_bills_its_expected_amount_every_month(settings, months, timing, margin):
    settings.BILLING_GO_LIVE = JAN
    settings.BILLING_SETTLED_MARGIN_SECONDS = margin
    CustomerClass.objects.get_or_create(name="Standard", defaults={"payment_terms_days": 14, "is_default": True})
    contract = ContractFactory(start_date=dt.date(2026, 11, 1), billing_timing=timing)
    line = ContractLineFactory(contract=contract, quantity=5, unit_price=Decimal("40.50"))
    client_ids = [contract.client_id]
    for index, (changes, run_it) in enumerate(months):
        month = add_months(JAN, index)
        for kind, offset, quantity, price in changes:
            on = month + dt.timedelta(days=offset)
            try:
                if kind == "end":
                    end_contract_line(line, on=on)
                else:
                    change_contract_line(line, quantity=quantity, unit_price=Decimal(price), effective_on=on)
            except ValidationError:
                pass  # a date the line is not in force on (or before a billed start): refused, nothing changed
        if run_it:
            run = services.start_billing_run(period_start=month, client_ids=client_ids)
            services.issue_billing_run(run, issued_on=month)
    final = add_months(JAN, len(months))
    services.issue_billing_run(services.start_billing_run(period_start=final, client_ids=client_ids), issued_on=final)

    last_month = final if timing == BillingTiming.ADVANCE else add_months(final, -1)
    first_month = JAN if timing == BillingTiming.ADVANCE else add_months(JAN, -1)
    billed = selectors.billed_sums(client_ids, since=first_month)
    for segment in ContractLine.objects.filter(contract=contract):
        month = first_month
        while month <= last_month:
            days = _days_in_force(segment, month)
            expected = expected_amount(segment.quantity, segment.unit_price, days, days_in(month))
            assert billed.get((segment.pk, month), Decimal("0.00")) == expected, (segment, month)
            month = add_months(month, 1)
