"""Service tests: snooze, ignore, mark reviewed, apply, expire snoozes."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command

from clients import billing_calendar
from clients.dates import display_date, org_today
from clients.models import ContractChange, ContractLine
from opportunities.models import OpportunityEvent, OpportunityState
from opportunities.services import actions
from opportunities.services.actions import ActionRefused

from .factories import (
    ContractFactory,
    OpportunityFactory,
    add_line_opportunity,
    billed_line,
    migrate_product_opportunity,
    raise_quantity_opportunity,
    segment_on,
    this_month,
)

pytestmark = pytest.mark.django_db
Event = OpportunityEvent.Action


def events(opp):
    return list(opp.events.order_by("id").values_list("action", "actor__username", "note"))


def test_snooze_hides_until_a_future_date_with_history(finance):
    opp = OpportunityFactory()
    until = org_today() + dt.timedelta(days=3)
    actions.snooze_opportunity(opportunity=opp, until=until, actor=finance)
    opp.refresh_from_db()
    assert opp.state == OpportunityState.SNOOZED and opp.snoozed_until == until
    assert events(opp) == [(Event.SNOOZED, "fran", f"Until {display_date(until)}")]


@pytest.mark.parametrize("days", [0, -1])
def test_snooze_refuses_today_or_the_past_and_changes_nothing(finance, days):
    opp = OpportunityFactory()
    with pytest.raises(ActionRefused, match="future"):
        actions.snooze_opportunity(opportunity=opp, until=org_today() + dt.timedelta(days=days), actor=finance)
    opp.refresh_from_db()
    assert opp.state == OpportunityState.OPEN and not opp.events.exists()


@pytest.mark.parametrize("days", [367, None])
def test_snooze_refuses_more_than_a_year_and_changes_nothing(finance, days):
    until = org_today() + dt.timedelta(days=days) if days else dt.date(9999, 12, 31)
    opp = OpportunityFactory()
    with pytest.raises(ActionRefused, match="at most a year"):
        actions.snooze_opportunity(opportunity=opp, until=until, actor=finance)
    opp.refresh_from_db()
    assert opp.state == OpportunityState.OPEN and not opp.events.exists()
    actions.snooze_opportunity(opportunity=opp, until=actions.latest_snooze_date(), actor=finance)  # a year is fine


def test_default_snooze_is_a_week_ahead():
    assert actions.default_snooze_date() == org_today() + dt.timedelta(days=7)


def test_ignore_keeps_the_reason(finance):
    opp = OpportunityFactory()
    actions.ignore_opportunity(opportunity=opp, reason="  Lab devices, not billable ", actor=finance)
    opp.refresh_from_db()
    assert opp.state == OpportunityState.IGNORED and opp.ignore_reason == "Lab devices, not billable"
    assert events(opp) == [(Event.IGNORED, "fran", "Lab devices, not billable")]


def test_ignore_without_reason(finance):
    opp = OpportunityFactory()
    actions.ignore_opportunity(opportunity=opp, actor=finance)
    opp.refresh_from_db()
    assert opp.state == OpportunityState.IGNORED and opp.ignore_reason == ""


def test_mark_reviewed_stores_the_figures_signature(finance):
    opp = OpportunityFactory(expected_quantity=9, billed_quantity=4, monthly_impact=Decimal("125.00"))
    actions.mark_reviewed(opportunity=opp, actor=finance)
    opp.refresh_from_db()
    assert opp.state == OpportunityState.REVIEWED
    assert opp.reviewed_signature == opp.figures_signature() and "9|4|125.00" in opp.reviewed_signature
    assert events(opp)[0][:2] == (Event.REVIEWED, "fran")


def test_an_ignored_item_cannot_be_snoozed(finance):
    opp = OpportunityFactory(state=OpportunityState.IGNORED)
    with pytest.raises(ActionRefused, match="ignored"):
        actions.snooze_opportunity(opportunity=opp, until=org_today() + dt.timedelta(days=2), actor=finance)


def test_apply_adds_a_line_and_records_who_and_when(finance):
    opp = add_line_opportunity(quantity=6, price=Decimal("25.00"))
    actions.apply_opportunity(opportunity=opp, actor=finance)
    line = ContractLine.objects.get(contract=opp.plan_contract, product=opp.product)
    assert (line.quantity, line.unit_price, line.start_date, line.end_date) == (6, Decimal("25.00"), this_month(), None)
    opp.refresh_from_db()
    assert opp.state == OpportunityState.APPLIED and opp.applied_by == finance and opp.applied_at
    change = ContractChange.objects.get(contract=opp.plan_contract)
    assert change.source == "missed billing" and change.actor == finance and change.line == line
    assert change.action == ContractChange.Action.LINE_ADDED
    assert events(opp)[0][:2] == (Event.APPLIED, "fran")


def test_apply_raises_the_quantity_from_the_first_month_not_yet_billed(finance):
    opp = raise_quantity_opportunity(to_quantity=15)
    actions.apply_opportunity(opportunity=opp, actor=finance)
    old = ContractLine.objects.get(pk=opp.plan_line_id)
    new = segment_on(old)
    assert (new.quantity, new.start_date, new.replaces_id) == (15, this_month(), old.pk)
    assert (old.quantity, old.end_date) == (10, this_month() - dt.timedelta(days=1))  # what was billed stays
    sku, since = opp.product.sku, display_date(this_month())
    change = ContractChange.objects.get(line=new)
    assert (change.source, change.actor) == ("missed billing", finance)
    assert change.detail == f"Set 15 × {sku} at 25.00 from {since} (was 10 × {sku} at 25.00) (missed billing #{opp.pk})"
    assert events(opp)[0][2] == f"{sku}: quantity 10 → 15 from {since} (missed billing #{opp.pk})"


def test_apply_from_a_date_set_back_changes_the_line_from_that_date(finance):
    opp = raise_quantity_opportunity(to_quantity=15)
    actions.apply_opportunity(opportunity=opp, actor=finance, effective_on=dt.date(2025, 3, 10))
    old = ContractLine.objects.get(pk=opp.plan_line_id)
    assert old.end_date == dt.date(2025, 3, 9) and segment_on(old, dt.date(2025, 3, 9)) == old
    new = segment_on(old, dt.date(2025, 3, 10))
    assert (new.quantity, new.start_date, new.end_date) == (15, dt.date(2025, 3, 10), None)
    assert segment_on(old, org_today()) == new


def test_apply_on_the_line_s_own_start_date_edits_it_in_place(finance):
    opp = raise_quantity_opportunity(to_quantity=15)
    actions.apply_opportunity(opportunity=opp, actor=finance, effective_on=opp.plan_line.start_date)
    assert ContractLine.objects.filter(contract=opp.plan_contract).count() == 1
    assert ContractLine.objects.get(pk=opp.plan_line_id).quantity == 15


@pytest.mark.parametrize("outside", ["before the start", "after the end"])
def test_apply_refuses_a_date_outside_the_line_and_changes_nothing(finance, outside):
    ends = org_today() + dt.timedelta(days=40)
    opp = raise_quantity_opportunity(line=billed_line(end_date=ends), to_quantity=15)
    when, message = {
        "before the start": (dt.date(2023, 12, 31), "31 Dec 2023 is before the line starts"),
        "after the end": (ends + dt.timedelta(days=1), f"The line ends on {display_date(ends)}"),
    }[outside]
    with pytest.raises(ActionRefused, match=message):
        actions.apply_opportunity(opportunity=opp, actor=finance, effective_on=when)
    opp.refresh_from_db()
    assert opp.state == OpportunityState.OPEN and ContractLine.objects.get(pk=opp.plan_line_id).quantity == 10
    assert not ContractChange.objects.exists() and events(opp)[0][:2] == (Event.APPLY_FAILED, "fran")


def test_apply_refuses_an_add_line_dated_before_the_contract_starts(finance):
    opp = add_line_opportunity()
    with pytest.raises(ActionRefused, match="before contract .* starts"):
        actions.apply_opportunity(opportunity=opp, actor=finance, effective_on=dt.date(2023, 12, 1))
    assert not ContractLine.objects.filter(contract=opp.plan_contract).exists()
    assert not ContractChange.objects.exists()


def test_the_default_date_is_the_client_s_first_month_not_yet_billed(finance):
    opp = raise_quantity_opportunity(to_quantity=15)
    assert actions.default_effective_date(opp) == this_month()

    def provider(client_id):
        return dt.date(2025, 11, 1) if client_id == opp.client_id else None

    billing_calendar.register(provider)
    try:
        assert actions.default_effective_date(opp) == dt.date(2025, 11, 1)
        actions.apply_opportunity(opportunity=opp, actor=finance)
    finally:
        billing_calendar.unregister(provider)
    assert segment_on(opp.plan_line, dt.date(2025, 11, 1)).quantity == 15
    assert segment_on(opp.plan_line, dt.date(2025, 10, 31)).quantity == 10


def test_the_default_date_is_never_before_the_line_starts():
    line = billed_line(start_date=org_today().replace(day=1) + dt.timedelta(days=40))
    opp = raise_quantity_opportunity(line=line)
    assert actions.default_effective_date(opp) == line.start_date


def test_apply_migrates_the_product_and_price_from_the_first_month_not_yet_billed(finance):
    opp = migrate_product_opportunity()
    actions.apply_opportunity(opportunity=opp, actor=finance)
    old = ContractLine.objects.get(pk=opp.plan_line_id)
    new = segment_on(old)
    assert (new.product, new.unit_price, new.quantity, new.start_date) == (
        opp.plan_product,
        Decimal("30.00"),
        10,
        this_month(),
    )
    assert old.product == opp.product and old.end_date == this_month() - dt.timedelta(days=1)


def test_apply_refuses_when_the_line_changed_and_changes_nothing(finance):
    opp = raise_quantity_opportunity(to_quantity=15)
    ContractLine.objects.filter(pk=opp.plan_line_id).update(quantity=12)
    with pytest.raises(ActionRefused, match="now 12, the plan expected 10"):
        actions.apply_opportunity(opportunity=opp, actor=finance)
    opp.refresh_from_db()
    opp.plan_line.refresh_from_db()
    assert opp.state == OpportunityState.OPEN and opp.plan_line.quantity == 12
    assert not ContractChange.objects.exists()
    assert events(opp)[0][:2] == (Event.APPLY_FAILED, "fran")


def test_apply_refuses_an_add_line_when_the_contract_now_bills_the_product(finance):
    opp = add_line_opportunity()
    ContractLine.objects.create(contract=opp.plan_contract, product=opp.product, quantity=1, unit_price=1)
    with pytest.raises(ActionRefused, match="already bills"):
        actions.apply_opportunity(opportunity=opp, actor=finance)
    assert ContractLine.objects.filter(contract=opp.plan_contract).count() == 1


def test_apply_refuses_an_ended_contract(finance):
    contract = ContractFactory(end_date=org_today() - dt.timedelta(days=1), start_date=dt.date(2020, 1, 1))
    opp = add_line_opportunity(client=contract.client, contract=contract)
    with pytest.raises(ActionRefused, match="no longer in force"):
        actions.apply_opportunity(opportunity=opp, actor=finance)


def test_apply_twice_refuses_the_second(finance, admin_user):
    opp = raise_quantity_opportunity()
    actions.apply_opportunity(opportunity=opp, actor=finance)
    with pytest.raises(ActionRefused, match="already applied by fran"):
        actions.apply_opportunity(opportunity=opp, actor=admin_user)
    assert segment_on(opp.plan_line).quantity == 15 and ContractChange.objects.count() == 1


def test_apply_refuses_an_item_that_is_not_ready(finance):
    opp = OpportunityFactory(ready_to_apply=False, not_ready_reason="No contract in force")
    with pytest.raises(ActionRefused, match="No contract in force"):
        actions.apply_opportunity(opportunity=opp, actor=finance)


def test_expire_snoozes_returns_due_items_only():
    today = org_today()
    due = OpportunityFactory(state=OpportunityState.SNOOZED, snoozed_until=today)
    later = OpportunityFactory(state=OpportunityState.SNOOZED, snoozed_until=today + dt.timedelta(days=1))
    assert actions.expire_snoozes() == 1
    due.refresh_from_db()
    later.refresh_from_db()
    assert due.state == OpportunityState.OPEN and due.snoozed_until is None
    assert later.state == OpportunityState.SNOOZED
    assert events(due)[0][0] == Event.UNSNOOZED


def test_expire_snoozes_command(capsys):
    OpportunityFactory(state=OpportunityState.SNOOZED, snoozed_until=org_today() - dt.timedelta(days=2))
    call_command("expire_snoozes")
    assert "1 snoozed item returned" in capsys.readouterr().out


def test_snooze_expiry_is_scheduled_nightly_and_registered_with_celery():
    from django_celery_beat.models import PeriodicTask

    from billingone.celery import app

    task = PeriodicTask.objects.get(task="opportunities.expire_snoozes")
    assert task.enabled and task.crontab.hour == "0"
    assert {
        "opportunities.expire_snoozes",
        "opportunities.run_bulk_apply",
        "opportunities.send_notification_emails",
    } <= set(app.tasks)


@pytest.mark.parametrize("state", [OpportunityState.SNOOZED, OpportunityState.IGNORED, OpportunityState.REVIEWED])
def test_it_reopens_a_snoozed_ignored_or_reviewed_item_with_history(finance, state):
    opp = OpportunityFactory(
        state=state, snoozed_until=org_today() + dt.timedelta(days=4), ignore_reason="Lab", reviewed_signature="9|4"
    )
    actions.reopen_opportunity(opportunity=opp, actor=finance)
    opp.refresh_from_db()
    assert opp.state == OpportunityState.OPEN
    assert (opp.snoozed_until, opp.ignore_reason, opp.reviewed_signature) == (None, "", "")
    event = opp.events.get()
    assert (event.action, event.from_state, event.to_state, event.actor) == (
        Event.REOPENED,
        state,
        OpportunityState.OPEN,
        finance,
    )


@pytest.mark.parametrize("state", [OpportunityState.OPEN, OpportunityState.APPLIED, OpportunityState.RESOLVED])
def test_it_refuses_to_reopen_an_open_applied_or_resolved_item(finance, state):
    opp = OpportunityFactory(state=state)
    with pytest.raises(ActionRefused, match="only snoozed, ignored or reviewed items reopen"):
        actions.reopen_opportunity(opportunity=opp, actor=finance)
    opp.refresh_from_db()
    assert opp.state == state and not opp.events.exists()
