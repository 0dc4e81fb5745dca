"""CSV downloads: what a spreadsheet would evaluate is written as text."""

import datetime as dt
from decimal import Decimal

import pytest

from clients.exports import spreadsheet_safe


@pytest.mark.parametrize("cell", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_a_cell_a_spreadsheet_would_evaluate_gets_an_apostrophe(cell):
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Acme Ltd", "WS-01", "a=b", "", "O'Brien & Co"])
def test_other_text_is_written_as_it_is(cell):
    assert spreadsheet_safe(cell) == cell


def test_numbers_stay_numbers_none_is_empty_and_times_are_the_organisations():
    assert spreadsheet_safe(-5) == -5
    assert spreadsheet_safe(Decimal("-12.50")) == Decimal("-12.50")
    assert spreadsheet_safe(None) == ""
    # Europe/London is on summer time (UTC+1) in July.
    assert spreadsheet_safe(dt.datetime(2026, 7, 1, 23, 30, tzinfo=dt.UTC)) == "2026-07-02 00:30"
