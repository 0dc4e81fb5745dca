"""Home's "Recovered by missed billing": what applied opportunities add each month, and how much of
that has reached an issued invoice. It reads both apps, so it lives in the project package (the
apps never import each other)."""

import datetime as dt
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from clients.dates import org_date, org_today
from clients.money import ZERO, quantize
from invoices.selectors import latest_issued_run_month
from opportunities.models import Opportunity, OpportunityState


def months_billed(start: dt.date, billed_through: dt.date | None) -> Decimal:
    """The months billed from ``start`` through the month ``billed_through`` (its first day), as day
    fractions: the first month from ``start`` to its end, then whole months; 0 when none is billed."""
    first = start.replace(day=1)
    if billed_through is None or billed_through < first:
        return Decimal(0)
    next_month = (first + dt.timedelta(days=32)).replace(day=1)
    days = (next_month - first).days
    whole = (billed_through.year - first.year) * 12 + billed_through.month - first.month
    return Decimal(days - start.day + 1) / Decimal(days) + whole


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def recovered_by_missed_billing(today: dt.date | None = None) -> dict:
    """Monthly value of the opportunities applied this month and this year (organisation's calendar),
    and of each, how much the issued invoices have billed so far: its monthly delta × the day
    fractions of the months billed from the date it took effect through the latest issued run's month."""
    today = today or org_today()
    year, month = _midnight(today.replace(month=1, day=1)), _midnight(today.replace(day=1))
    applied = Opportunity.objects.filter(state=OpportunityState.APPLIED, applied_at__gte=year)
    figures = applied.aggregate(
        year=Sum("plan_monthly_delta", default=ZERO),
        month=Sum("plan_monthly_delta", filter=Q(applied_at__gte=month), default=ZERO),
    )
    billed_through = latest_issued_run_month()
    invoiced_year = invoiced_month = ZERO
    rows = applied.exclude(plan_monthly_delta=None).values_list("applied_at", "applied_from", "plan_monthly_delta")
    for applied_at, applied_from, delta in rows.iterator(chunk_size=2000):
        amount = quantize(delta * months_billed(applied_from or org_date(applied_at), billed_through))
        invoiced_year += amount
        if applied_at >= month:
            invoiced_month += amount
    return {
        "applied_month": figures["month"],
        "applied_year": figures["year"],
        "invoiced_month": invoiced_month,
        "invoiced_year": invoiced_year,
        "billed_through": billed_through,
    }
