"""What detection does to an existing opportunity when it finds the gap again: a pure function."""

import datetime as dt
from decimal import Decimal

import pytest

from opportunities.models import OpportunityEvent, OpportunityState, figures_signature
from opportunities.services.detection.reconcile import (
    FIGURE_FIELDS,
    ROW_FIELDS,
    ExistingRow,
    changed_fields,
    transition,
)

TODAY = dt.date(2026, 12, 2)
Action = OpportunityEvent.Action
S = OpportunityState


def _figures(**overrides):
    figures = {name: None for name in FIGURE_FIELDS}
    figures.update(expected_quantity=15, billed_quantity=10, monthly_impact=Decimal("202.50"), plan_to_quantity=15)
    figures.update(overrides)
    return figures


def _row(state, *, snoozed_until=None, **figures):
    values = dict.fromkeys(ROW_FIELDS)
    values.update(_figures(**figures), pk=1, state=state, snoozed_until=snoozed_until)
    values["reviewed_signature"] = figures_signature(values)
    return ExistingRow(**values)


def _step(row, figures):
    return transition(row, figures, TODAY, changed=changed_fields(row, figures))


@pytest.mark.parametrize("state", [S.RESOLVED, S.APPLIED])
def test_it_reopens_a_closed_item_whose_gap_is_back(state):
    assert _step(_row(state), _figures()) == (S.OPEN, Action.REOPENED, "The gap is back.")


@pytest.mark.parametrize(
    ("until", "wakes"), [(TODAY, True), (TODAY - dt.timedelta(days=1), True), (TODAY + dt.timedelta(days=1), False)]
)
def test_it_wakes_a_snoozed_item_on_its_date_and_not_before(until, wakes):
    step = _step(_row(S.SNOOZED, snoozed_until=until), _figures())
    assert step == ((S.OPEN, Action.UNSNOOZED, "Snooze date reached.") if wakes else (S.SNOOZED, None, ""))


def test_it_reopens_a_reviewed_item_when_the_signed_off_figures_change():
    step = _step(_row(S.REVIEWED), _figures(expected_quantity=18, plan_to_quantity=18))
    assert step == (S.OPEN, Action.REOPENED, "Its figures changed.")


def test_it_leaves_a_reviewed_item_reviewed_when_only_its_wording_changes():
    assert _step(_row(S.REVIEWED), _figures(description="Reworded")) == (S.REVIEWED, None, "")


def test_it_records_an_update_of_an_open_item_naming_what_changed():
    step = _step(_row(S.OPEN), _figures(monthly_impact=Decimal("243.00"), plan_contract_id=7))
    assert step == (S.OPEN, Action.UPDATED, "Changed: monthly impact, plan contract")


def test_an_unchanged_open_item_has_no_event():
    assert _step(_row(S.OPEN), _figures()) == (S.OPEN, None, "")


def test_an_ignored_item_stays_ignored_for_good_even_when_its_figures_change():
    assert _step(_row(S.IGNORED), _figures(expected_quantity=99)) == (S.IGNORED, None, "")
