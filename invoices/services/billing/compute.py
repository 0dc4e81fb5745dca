"""A chunk of clients through the rule: for every contract line and every month from the client's
billing start through the run's billing month, what should have been billed against what was."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from clients.models import BillingTiming

from ... import selectors
from .periods import add_months, days_in, month_of, months
from .rule import Billed, Line, Segment, expected_amount, lines_for


@dataclass(frozen=True)
class Calendar:
    """The months one run looks at."""

    run_month: dt.date
    go_live: dt.date  # the organisation's first billing month
    horizon: dt.date  # the oldest month still billed; older differences are only listed

    def billing_month(self, timing: str) -> dt.date:
        """In advance a run bills its own month; in arrears, the month before."""
        return self.run_month if timing == BillingTiming.ADVANCE else add_months(self.run_month, -1)

    def first_month(self, timing: str) -> dt.date:
        """The go-live month as each timing sees it (the first run bills the month before in arrears)."""
        return self.go_live if timing == BillingTiming.ADVANCE else add_months(self.go_live, -1)


def billing_calendar(run_month: dt.date) -> Calendar:
    go_live = settings.BILLING_GO_LIVE or selectors.first_issued_run_month() or run_month
    return Calendar(
        run_month=run_month,
        go_live=month_of(go_live),
        horizon=add_months(run_month, -settings.BILLING_BACKDATE_MONTHS),
    )


@dataclass
class ClientBill:
    client_id: int
    lines: list[Line] = field(default_factory=list)
    past_horizon: list[tuple[int, dt.date, Decimal]] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


def _segments(client_ids):
    """(segment, billing timing) per contract line of the clients."""
    found = []
    for (
        line_id,
        client_id,
        product,
        quantity,
        price,
        start,
        line_end,
        contract_end,
        timing,
    ) in selectors.billing_segments(client_ids):
        ends = [day for day in (line_end, contract_end) if day is not None]
        end = min(ends) if ends else None
        if end is not None and end < start:
            continue  # never in force (a contract that ended before this line began)
        found.append((Segment(line_id, client_id, product, quantity, price, start, end), timing))
    return found


def _client_starts(client_ids, segments, calendar: Calendar) -> dict[int, dict]:
    """Per client: the first month billed for each timing (override, else the latest of its earliest
    line, go-live, and the month after history not billed by runs)."""
    inputs = selectors.billing_start_inputs(client_ids)
    earliest: dict[int, dt.date] = {}
    for segment, _timing in segments:
        month = month_of(segment.start)
        if segment.client_id not in earliest or month < earliest[segment.client_id]:
            earliest[segment.client_id] = month
    starts = {}
    for client_id, given in inputs.items():
        history_next = add_months(month_of(given["history_end"]), 1) if given["history_end"] else None
        starts[client_id] = {}
        for timing in BillingTiming.values:
            if given["override"]:
                starts[client_id][timing] = month_of(given["override"])
                continue
            candidates = [calendar.first_month(timing), earliest.get(client_id, calendar.run_month)]
            starts[client_id][timing] = max(candidates + ([history_next] if history_next else []))
    return starts


def compute_bills(client_ids, calendar: Calendar) -> dict[int, ClientBill]:
    """What each client's invoice would hold now (clients with nothing to bill are left out)."""
    client_ids = list(client_ids)
    segments = _segments(client_ids)
    starts = _client_starts(client_ids, segments, calendar)
    oldest_listed = add_months(calendar.horizon, -settings.BILLING_BACKDATE_MONTHS)
    billed = selectors.billed_sums(client_ids, since=oldest_listed)
    billed_months: dict[int, set] = {}
    for line_id, month in billed:
        billed_months.setdefault(line_id, set()).add(month)
    bills = {client_id: ClientBill(client_id) for client_id in client_ids}
    mismatched = []
    for segment, timing in segments:
        first = max(starts[segment.client_id][timing], oldest_listed)
        last = calendar.billing_month(timing)
        through = min(last, month_of(segment.end)) if segment.end else last
        candidates = set(months(max(first, month_of(segment.start)), through))
        candidates |= {m for m in billed_months.get(segment.line_id, ()) if first <= m <= last}
        for month in sorted(candidates):
            already = billed.get((segment.line_id, month))
            span = segment.days_in_force(month)
            days = span[1] - span[0] + 1 if span else 0
            expected = expected_amount(segment.quantity, segment.unit_price, days, days_in(month))
            current = month == last
            if already is None and (not days or (expected == 0 and not current)):
                continue
            if already is not None and already == expected:
                continue
            if month < calendar.horizon:
                bills[segment.client_id].past_horizon.append((segment.line_id, month, expected - (already or 0)))
                continue
            mismatched.append((segment, month, current, already is not None))
    history = selectors.billed_lines({(s.line_id, m) for s, m, _c, seen in mismatched if seen})
    for segment, month, current, _seen in mismatched:
        previous = [Billed(*_as_billed(row)) for row in history.get((segment.line_id, month), ())]
        bills[segment.client_id].lines.extend(lines_for(segment, month, previous, current=current))
    return {client_id: bill for client_id, bill in bills.items() if bill.lines or bill.past_horizon}


def _as_billed(row) -> tuple:
    quantity, unit_price, service_start, service_end, amount = row
    return quantity, unit_price, service_start.day, service_end.day, amount
