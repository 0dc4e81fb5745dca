"""Service tests: snooze, ignore, mark reviewed, apply, expire snoozes."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command

from clients.dates import display_date, org_today
from clients.models import ContractChange, ContractLine
from opportunities.models import OpportunityEvent, OpportunityState
from opportunities.services import actions
from opportunities.services.actions import ActionRefused

from .factories import (
    ContractFactory,
    OpportunityFactory,
    add_line_opportunity,
    migrate_product_opportunity,
    raise_quantity_opportunity,
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
    assert (line.quantity, line.unit_price) == (6, Decimal("25.00"))
    opp.refresh_from_db()
    assert opp.state == OpportunityState.APPLIED and opp.applied_by == finance and opp.applied_at
    change = ContractChange.objects.get(contract=opp.plan_contract)
    assert change.source == "missed billing" and change.actor == finance and change.line == line
    assert change.action == ContractChange.Action.LINE_ADDED
    assert events(opp)[0][:2] == (Event.APPLIED, "fran")


def test_apply_raises_the_quantity(finance):
    opp = raise_quantity_opportunity(to_quantity=15)
    actions.apply_opportunity(opportunity=opp, actor=finance)
    opp.plan_line.refresh_from_db()
    assert opp.plan_line.quantity == 15
    assert ContractChange.objects.get(line=opp.plan_line).detail.startswith(f"{opp.product.sku}: quantity 10 → 15")


def test_apply_migrates_the_product_and_price(finance):
    opp = migrate_product_opportunity()
    line = opp.plan_line
    actions.apply_opportunity(opportunity=opp, actor=finance)
    line.refresh_from_db()
    assert line.product == opp.plan_product and line.unit_price == Decimal("30.00") and line.quantity == 10


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
    opp.plan_line.refresh_from_db()
    assert opp.plan_line.quantity == 15 and ContractChange.objects.count() == 1


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
