"""Home's "Recovered by missed billing": applied this month and year, and how much issued invoices billed."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billingone.recovered import months_billed, recovered_by_missed_billing
from invoices.models import BillingRun, BillingRunStatus
from opportunities.models import OpportunityState
from opportunities.tests.factories import OpportunityFactory

D = Decimal


@pytest.mark.parametrize(
    ("start", "through", "months"),
    [
        (dt.date(2027, 1, 1), dt.date(2027, 1, 1), D(1)),
        (dt.date(2027, 1, 11), dt.date(2027, 1, 1), D(21) / D(31)),
        (dt.date(2027, 1, 11), dt.date(2027, 3, 1), D(21) / D(31) + 2),
        (dt.date(2028, 2, 29), dt.date(2028, 2, 1), D(1) / D(29)),
        (dt.date(2027, 2, 1), dt.date(2027, 1, 1), D(0)),
        (dt.date(2027, 2, 1), None, D(0)),
    ],
)
def test_months_billed_counts_the_day_fractions_from_the_effective_date(start, through, months):
    assert months_billed(start, through) == months


def _applied(delta, *, at, start):
    return OpportunityFactory(
        state=OpportunityState.APPLIED,
        plan_monthly_delta=D(delta),
        applied_at=timezone.make_aware(dt.datetime.combine(at, dt.time(12))),
        applied_from=start,
    )


@pytest.mark.django_db
def test_home_shows_what_was_applied_and_how_much_of_it_issued_invoices_billed(finance_client):
    today = dt.date(2027, 3, 20)
    _applied("31.00", at=dt.date(2027, 3, 5), start=dt.date(2027, 1, 11))  # backdated into January
    _applied("100.00", at=dt.date(2027, 2, 2), start=dt.date(2027, 2, 1))
    _applied("999.00", at=dt.date(2026, 12, 31), start=dt.date(2026, 12, 1))  # last year: not counted
    BillingRun.objects.create(period_start=dt.date(2027, 2, 1), status=BillingRunStatus.ISSUED)
    figures = recovered_by_missed_billing(today=today)
    assert (figures["applied_month"], figures["applied_year"]) == (D("31.00"), D("131.00"))
    # 31.00 × (21/31 + 1) = 52.00 billed for Jan and Feb; 100.00 × 1 for February.
    assert (figures["invoiced_month"], figures["invoiced_year"]) == (D("52.00"), D("152.00"))
    page = finance_client.get(reverse("home")).content.decode()
    assert "Recovered by missed billing" in page and "(through Feb 2027)" in page
