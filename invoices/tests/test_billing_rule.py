"""The billing rule by itself: expected amounts by day fraction, and the lines that correct a month."""

import datetime as dt
from decimal import Decimal

import pytest

from invoices.services.billing.rule import Billed, Segment, expected_amount, lines_for

D = Decimal
JAN, FEB = dt.date(2027, 1, 1), dt.date(2027, 2, 1)


def seg(quantity=10, price="40.50", start=dt.date(2026, 1, 1), end=None, line_id=1):
    return Segment(line_id, 7, "Managed workstation", quantity, D(price), start, end)


@pytest.mark.parametrize(
    ("month", "days_in_month"),
    [(dt.date(2027, 2, 1), 28), (dt.date(2028, 2, 1), 29), (dt.date(2027, 4, 1), 30), (JAN, 31)],
)
def test_a_full_month_bills_quantity_times_price_whatever_its_length(month, days_in_month):
    [line] = lines_for(seg(), month, [], current=True)
    assert line.amount == D("405.00")
    assert (line.days, line.days_in_month) == (days_in_month, days_in_month)
    assert line.description == f"Managed workstation — {month:%b %Y}, 10 × 40.50"


def test_expected_amount_rounds_half_up_once_to_the_cent():
    assert expected_amount(1, D("0.31"), 1, 31) == D("0.01")  # 0.01 exactly
    assert expected_amount(1, D("0.15"), 1, 2) == D("0.08")  # 0.075 → 0.08 (half up)
    assert expected_amount(1, D("0.05"), 1, 10) == D("0.01")  # 0.005 → 0.01
    assert expected_amount(1, D("0.04"), 1, 10) == D("0.00")  # 0.004 → 0.00
    assert expected_amount(3, D("33.33"), 10, 30) == D("33.33")


def test_a_line_starting_mid_month_bills_its_days():
    [line] = lines_for(seg(start=dt.date(2027, 1, 11)), JAN, [], current=True)
    assert line.amount == D("274.35")  # 405 × 21/31 = 274.354…
    assert (line.service_start, line.service_end, line.days) == (dt.date(2027, 1, 11), dt.date(2027, 1, 31), 21)
    assert line.description == "Managed workstation — Jan 2027, 10 × 40.50, 11–31 Jan 2027: 21/31"


def test_a_line_starting_and_ending_in_the_same_month():
    [line] = lines_for(seg(start=dt.date(2027, 2, 10), end=dt.date(2027, 2, 16)), FEB, [], current=True)
    assert (line.days, line.days_in_month, line.amount) == (7, 28, D("101.25"))


def test_a_line_in_force_on_the_first_or_last_day_only():
    first = lines_for(seg(end=dt.date(2027, 1, 1)), JAN, [], current=True)
    last = lines_for(seg(start=dt.date(2027, 1, 31)), JAN, [], current=True)
    assert [line.amount for line in first + last] == [D("13.06"), D("13.06")]
    assert "1 Jan 2027: 1/31" in first[0].description


def test_a_line_not_in_force_in_the_month_bills_nothing():
    assert lines_for(seg(start=dt.date(2027, 2, 1)), JAN, [], current=True) == []
    assert lines_for(seg(end=dt.date(2026, 12, 31)), JAN, [], current=True) == []


def test_a_line_at_zero_price_is_billed_once_at_zero():
    [line] = lines_for(seg(price="0.00"), JAN, [], current=True)
    assert line.amount == D("0.00")
    billed = [Billed(D(10), D("0.00"), 1, 31, D("0.00"))]
    assert lines_for(seg(price="0.00"), JAN, billed, current=True) == []


def test_billing_the_same_month_again_bills_nothing():
    billed = [Billed(D(10), D("40.50"), 1, 31, D("405.00"))]
    assert lines_for(seg(), JAN, billed, current=False) == []
    assert lines_for(seg(), JAN, billed, current=True) == []


def test_a_raise_from_the_11th_after_billing_in_advance_credits_the_old_line_and_charges_the_new():
    billed_old = [Billed(D(10), D("40.50"), 1, 31, D("405.00"))]
    old = seg(end=dt.date(2027, 1, 10), line_id=1)
    new = seg(quantity=15, start=dt.date(2027, 1, 11), line_id=2)
    [credit] = lines_for(old, JAN, billed_old, current=False)
    [charge] = lines_for(new, JAN, [], current=False)
    assert credit.description == "Managed workstation, 10 × 40.50, 11–31 Jan 2027 no longer in force: 21/31"
    assert (credit.quantity, credit.unit_price, credit.amount, credit.adjustment) == (
        D(-10),
        D("40.50"),
        D("-274.35"),
        True,
    )
    assert charge.description == "Managed workstation, 15 × 40.50, 11–31 Jan 2027: 21/31"
    assert (charge.amount, charge.line_id, charge.adjustment) == (D("411.53"), 2, True)


def test_a_price_changed_in_place_after_billing_is_reversed_at_the_billed_price_and_charged_anew():
    billed = [Billed(D(10), D("40.50"), 1, 31, D("405.00"))]
    credit, charge = lines_for(seg(price="45.00"), JAN, billed, current=False)
    assert (credit.unit_price, credit.amount) == (D("40.50"), D("-405.00"))
    assert "as billed, reversed" in credit.description
    assert (charge.unit_price, charge.amount) == (D("45.00"), D("450.00"))


def test_an_earlier_start_now_in_force_charges_only_the_added_days():
    billed = [Billed(D(10), D("40.50"), 11, 31, D("274.35"))]
    [line] = lines_for(seg(start=dt.date(2027, 1, 6)), JAN, billed, current=False)
    assert line.description == "Managed workstation, 10 × 40.50, 6–10 Jan 2027 now in force: 5/31"
    assert line.amount == D("339.68") - D("274.35")


def test_credits_and_charges_replay_so_a_second_correction_starts_from_what_is_billed_now():
    billed = [
        Billed(D(10), D("40.50"), 1, 31, D("405.00")),
        Billed(D(-10), D("40.50"), 21, 31, D("-143.71")),
    ]
    [line] = lines_for(seg(end=dt.date(2027, 1, 10)), JAN, billed, current=False)
    assert line.description == "Managed workstation, 10 × 40.50, 11–20 Jan 2027 no longer in force: 10/31"
    assert sum((b.amount for b in billed), line.amount) == expected_amount(10, D("40.50"), 10, 31)


def test_a_line_no_longer_in_force_at_all_is_credited_in_full():
    billed = [Billed(D(10), D("40.50"), 1, 31, D("405.00"))]
    [line] = lines_for(seg(start=dt.date(2027, 2, 1)), JAN, billed, current=False)
    assert line.amount == D("-405.00")
    assert line.description == "Managed workstation, 10 × 40.50, 1–31 Jan 2027 no longer in force: 31/31"
