"""The billing rule, pure: what one contract line should have been billed in one month, and the
invoice lines that bring what was billed up (or down) to it.

Expected amount = quantity × unit price × (days in force ÷ days in the month), computed exactly
and rounded half-up to the cent once per (line, month). What was billed is replayed from the
lines already issued for that (line, month): charges add their days, credits remove theirs, so a
correction always says which days it adds or takes away, at the price that was billed.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from .periods import days_in, days_label, month_end, month_label

CENT = Decimal("0.01")


def expected_amount(quantity, unit_price: Decimal, days: int, days_in_month: int) -> Decimal:
    """quantity × unit price × days / days in month, rounded half-up to the cent (exactly)."""
    if days <= 0 or quantity == 0:
        return Decimal("0.00")
    numerator = int(quantity) * int(unit_price * 100) * days  # cents × days; prices are whole cents
    cents = (2 * numerator + days_in_month) // (2 * days_in_month)
    return (Decimal(cents) * CENT).quantize(CENT)


@dataclass(frozen=True)
class Segment:
    """A contract line segment as the rule needs it: its dates already cut to its contract's."""

    line_id: int
    client_id: int
    product: str
    quantity: int
    unit_price: Decimal
    start: dt.date
    end: dt.date | None  # last day in force, inclusive

    def days_in_force(self, month: dt.date) -> tuple[int, int] | None:
        """(first day, last day) of the month this segment is in force, or None."""
        last = month_end(month)
        if self.start > last or (self.end is not None and self.end < month):
            return None
        first = max(self.start, month)
        final = min(self.end, last) if self.end is not None else last
        return first.day, final.day


@dataclass(frozen=True)
class Billed:
    """One issued line for the (line, month): signed quantity, price billed, its days, amount."""

    quantity: Decimal
    unit_price: Decimal
    first: int
    last: int
    amount: Decimal


@dataclass(frozen=True)
class Line:
    """An invoice line the rule asks for (to draft, then issue)."""

    line_id: int
    period: dt.date
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    first: int
    last: int
    days: int
    days_in_month: int
    adjustment: bool

    @property
    def service_start(self) -> dt.date:
        return self.period.replace(day=self.first)

    @property
    def service_end(self) -> dt.date:
        return self.period.replace(day=self.last)


def _replay(billed: list[Billed]):
    """What the billed lines add up to: (quantity, unit price, set of days billed), or None."""
    state = None
    for item in billed:
        days = set(range(item.first, item.last + 1))
        if item.quantity < 0:
            if state is not None:
                state = (state[0], state[1], state[2] - days)
        elif state is not None and state[2] and (state[0], state[1]) == (item.quantity, item.unit_price):
            state = (state[0], state[1], state[2] | days)
        else:
            state = (item.quantity, item.unit_price, days)
    if state is None or not state[2]:
        return None
    return state


def _one_range(days: set[int]) -> tuple[int, int] | None:
    """(first, last) when the days are one unbroken range, else None."""
    if not days:
        return None
    first, last = min(days), max(days)
    return (first, last) if len(days) == last - first + 1 else None


def lines_for(segment: Segment, month: dt.date, billed: list[Billed], *, current: bool) -> list[Line]:
    """The lines that make what is billed for (segment, month) equal what is expected.

    ``current`` is the run's own billing month (ordinary lines); an earlier month gets adjustment
    lines that say what they correct. Nothing when the difference is zero, except that a line in
    force in the current month is billed once even at 0.00 (so the client sees it).
    """
    dim = days_in(month)
    in_force = segment.days_in_force(month)
    days = set(range(in_force[0], in_force[1] + 1)) if in_force else set()
    quantity = Decimal(segment.quantity)
    expected = expected_amount(segment.quantity, segment.unit_price, len(days), dim)
    already = sum((item.amount for item in billed), Decimal("0.00"))
    if expected == already and (billed or not days or not current):
        return []
    made = _Maker(segment, month, dim, current)
    state = _replay(billed)
    if state is None:
        # Nothing billed (or all of it credited): charge what is expected now (less any remainder).
        return [made.charge(quantity, segment.unit_price, in_force, expected - already)] if days else []
    billed_qty, billed_price, billed_days = state
    if (billed_qty, billed_price) == (quantity, segment.unit_price):
        removed, added = billed_days - days, days - billed_days
        gone, new = _one_range(removed), _one_range(added)
        if removed and not added and gone:
            return [made.credit(billed_qty, billed_price, gone, expected - already, "no longer in force")]
        if added and not removed and new:
            return [made.charge(quantity, segment.unit_price, new, expected - already, note="now in force")]
    # Anything else: reverse what was billed (at its price) and charge what is expected.
    whole = (min(billed_days), max(billed_days))
    lines = [made.credit(billed_qty, billed_price, whole, -already, "as billed, reversed")]
    if days:
        lines.append(made.charge(quantity, segment.unit_price, in_force, expected))
    return lines


def units(quantity) -> str:
    """A quantity as an invoice says it: 10, not 10.00 (billed quantities come back as decimals)."""
    value = Decimal(quantity)
    return str(int(value)) if value == value.to_integral_value() else str(value.normalize())


@dataclass
class _Maker:
    segment: Segment
    month: dt.date
    dim: int
    current: bool

    def charge(self, quantity, price, span, amount, note="") -> Line:
        first, last = span
        days = last - first + 1
        if self.current:
            text = f"{self.segment.product} — {month_label(self.month)}, {units(quantity)} × {price}"
            if days != self.dim:
                text += f", {days_label(first, last, self.month)}: {days}/{self.dim}"
        else:
            text = f"{self.segment.product}, {units(quantity)} × {price}, {days_label(first, last, self.month)}"
            text += f" {note}: {days}/{self.dim}" if note else f": {days}/{self.dim}"
        return self._line(text, quantity, price, amount, first, last, adjustment=not self.current)

    def credit(self, quantity, price, span, amount, note) -> Line:
        first, last = span
        days = last - first + 1
        text = f"{self.segment.product}, {units(quantity)} × {price}, {days_label(first, last, self.month)} {note}"
        text += f": {days}/{self.dim}"
        return self._line(text, -quantity, price, amount, first, last, adjustment=True)

    def _line(self, text, quantity, price, amount, first, last, *, adjustment) -> Line:
        return Line(
            line_id=self.segment.line_id,
            period=self.month,
            description=text,
            quantity=quantity,
            unit_price=price,
            amount=amount,
            first=first,
            last=last,
            days=last - first + 1,
            days_in_month=self.dim,
            adjustment=adjustment,
        )
