"""Bulk apply: compatibility with reasons, preview by contract, per-item outcome, idempotency."""

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest

from clients import billing_calendar
from clients.models import ContractChange, ContractLine
from opportunities import selectors
from opportunities.models import BulkApply, BulkApplyItem, OpportunityState
from opportunities.services import bulk
from opportunities.services.actions import ActionRefused

from .factories import (
    ContractFactory,
    ProductFactory,
    add_line_opportunity,
    billed_line,
    raise_quantity_opportunity,
    segment_on,
    this_month,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def product():
    return ProductFactory(name="Managed workstation")


def test_preview_keeps_same_action_and_product_and_says_why_not_for_others(product):
    a = raise_quantity_opportunity(line=billed_line(product=product))
    b = raise_quantity_opportunity(line=billed_line(product=product))
    other_product = raise_quantity_opportunity()
    other_action = add_line_opportunity(product=product)
    snoozed = raise_quantity_opportunity(line=billed_line(product=product))
    snoozed.state, snoozed.snoozed_until = OpportunityState.SNOOZED, "2999-01-01"
    snoozed.save()
    ids = [a.pk, b.pk, other_product.pk, other_action.pk, snoozed.pk]
    a.monthly_impact = Decimal("999.00")  # the anchor is the first in queue order
    a.save()
    preview = bulk.preview_bulk_apply(opportunity_ids=ids)
    assert {o.pk for o in preview.compatible} == {a.pk, b.pk}
    reasons = {o.pk: r for o, r in preview.refused}
    assert reasons[other_product.pk].startswith("Different product")
    assert reasons[other_action.pk] == "Different action: add a contract line"
    assert reasons[snoozed.pk] == "Not open (snoozed)"
    assert len(preview.groups) == 2
    assert preview.total == a.plan_monthly_delta + b.plan_monthly_delta


def test_preview_groups_by_target_contract_with_totals(product):
    contract = ContractFactory()
    items = [
        raise_quantity_opportunity(
            line=billed_line(contract=contract, product=product), to_quantity=12, source_key=f"product:{i}"
        )
        for i in range(2)
    ]
    preview = bulk.preview_bulk_apply(opportunity_ids=[o.pk for o in items])
    assert len(preview.groups) == 1
    assert preview.groups[0].contract == contract and preview.groups[0].total == Decimal("100.00")


def test_preview_refuses_garbage_ids():
    with pytest.raises(ActionRefused, match="not an item number"):
        bulk.preview_bulk_apply(opportunity_ids=["1", "x"])


def _start(ids, key="k1", actor=None, effective_on=None):
    return bulk.start_bulk_apply(opportunity_ids=ids, idempotency_key=key, actor=actor, effective_on=effective_on)


def test_bulk_apply_applies_each_item_and_one_failure_does_not_stop_the_rest(
    finance, product, django_capture_on_commit_callbacks, celery_eager
):
    items = [raise_quantity_opportunity(line=billed_line(product=product)) for _ in range(3)]
    ContractLine.objects.filter(pk=items[1].plan_line_id).update(quantity=11)  # changed since detection
    with django_capture_on_commit_callbacks(execute=True):
        bulk_apply, created = _start([o.pk for o in items], actor=finance)
    assert created
    bulk_apply.refresh_from_db()
    assert bulk_apply.status == BulkApply.Status.FINISHED
    states = dict(BulkApplyItem.objects.values_list("opportunity_id", "state"))
    assert states == {items[0].pk: "applied", items[1].pk: "failed", items[2].pk: "applied"}
    failed = BulkApplyItem.objects.get(opportunity=items[1])
    assert "now 11, the plan expected 10" in failed.message
    assert selectors.bulk_progress(bulk_apply) | {} == {
        "total": 3,
        "applied": 2,
        "failed": 1,
        "pending": 0,
        "done": 3,
        "percent": 100,
    }
    assert [o.state for o in type(items[0]).objects.filter(pk__in=[o.pk for o in items]).order_by("id")] == [
        "applied",
        "open",
        "applied",
    ]
    assert ContractChange.objects.filter(actor=finance, source="missed billing").count() == 2


def test_an_unexpected_error_on_one_item_does_not_stop_the_others(finance, product):
    items = [raise_quantity_opportunity(line=billed_line(product=product)) for _ in range(2)]
    bulk_apply, _ = _start([o.pk for o in items], actor=finance)
    real = bulk.apply_locked

    def flaky(opp, actor, **kwargs):
        if opp.pk == items[0].pk:
            raise RuntimeError("boom")
        return real(opp, actor, **kwargs)

    with mock.patch.object(bulk, "apply_locked", side_effect=flaky):
        bulk.run_bulk(bulk_id=bulk_apply.pk)
    states = dict(BulkApplyItem.objects.values_list("opportunity_id", "state"))
    assert states == {items[0].pk: "failed", items[1].pk: "applied"}


def test_the_same_submission_twice_is_one_bulk_apply_and_applies_once(finance, product):
    items = [raise_quantity_opportunity(line=billed_line(product=product)) for _ in range(2)]
    ids = [o.pk for o in items]
    first, created1 = _start(ids, key="same", actor=finance)
    second, created2 = _start(ids, key="same", actor=finance)
    assert first.pk == second.pk and (created1, created2) == (True, False)
    bulk.run_bulk(bulk_id=first.pk)
    bulk.run_bulk(bulk_id=first.pk)  # delivered twice
    assert BulkApply.objects.count() == 1 and BulkApplyItem.objects.count() == 2
    assert ContractChange.objects.count() == 2
    for o in items:
        assert segment_on(o.plan_line).quantity == 15
        assert ContractLine.objects.get(pk=o.plan_line_id).end_date == this_month() - dt.timedelta(days=1)


def test_a_second_bulk_with_the_same_items_applies_nothing_twice(finance, product):
    item = raise_quantity_opportunity(line=billed_line(product=product))
    first, _ = _start([item.pk], key="a", actor=finance)
    bulk.run_bulk(bulk_id=first.pk)
    with pytest.raises(ActionRefused, match="None of the selected items"):
        _start([item.pk], key="b", actor=finance)
    assert ContractChange.objects.count() == 1


def test_start_refuses_a_missing_key(finance, product):
    item = raise_quantity_opportunity()
    with pytest.raises(ActionRefused, match="expired"):
        _start([item.pk], key="", actor=finance)


def test_it_previews_many_contracts_in_one_query(product, django_assert_num_queries):
    ids = [raise_quantity_opportunity(line=billed_line(product=product)).pk for _ in range(6)]
    # 1: the selected opportunities with their products, plan contracts (and clients) and lines.
    with django_assert_num_queries(1):
        preview = bulk.preview_bulk_apply(opportunity_ids=ids)
        names = [group.contract.client.name for group in preview.groups]
    assert len(preview.groups) == 6 and names == sorted(names)


def test_it_refuses_an_item_whose_plan_contract_is_gone_instead_of_failing(product):
    kept = raise_quantity_opportunity(line=billed_line(product=product))
    orphan = raise_quantity_opportunity(line=billed_line(product=product))
    type(orphan).objects.filter(pk=orphan.pk).update(plan_contract=None)
    preview = bulk.preview_bulk_apply(opportunity_ids=[kept.pk, orphan.pk])
    assert [o.pk for o in preview.compatible] == [kept.pk]
    assert [(o.pk, reason) for o, reason in preview.refused] == [
        (orphan.pk, "The contract of its plan no longer exists")
    ]


def test_django_admin_names_them_bulk_applies():
    assert str(BulkApply._meta.verbose_name_plural) == "bulk applies"


def test_each_item_of_a_bulk_apply_takes_effect_from_its_client_s_first_month_not_yet_billed(finance, product):
    items = [raise_quantity_opportunity(line=billed_line(product=product)) for _ in range(2)]
    months = {items[0].client_id: dt.date(2025, 11, 1)}  # the other client: nothing billed yet

    def provider(client_id):
        return months.get(client_id)

    billing_calendar.register(provider)
    try:
        first, _ = _start([o.pk for o in items], actor=finance)
        bulk.run_bulk(bulk_id=first.pk)
    finally:
        billing_calendar.unregister(provider)
    assert first.effective_on is None  # no date given: each item its own default
    assert segment_on(items[0].plan_line, dt.date(2025, 11, 1)).quantity == 15
    assert segment_on(items[0].plan_line, dt.date(2025, 10, 31)).quantity == 10
    assert ContractLine.objects.get(pk=items[1].plan_line_id).end_date == this_month() - dt.timedelta(days=1)
    assert segment_on(items[1].plan_line).start_date == this_month()


def test_one_date_for_the_whole_bulk_apply_is_each_items_and_an_item_it_does_not_fit_fails_alone(finance, product):
    on, day = dt.date(2026, 3, 1), dt.timedelta(days=1)
    items = [raise_quantity_opportunity(line=billed_line(product=product)) for _ in range(2)]
    late = raise_quantity_opportunity(line=billed_line(product=product, start_date=dt.date(2026, 5, 1)))
    first, _ = _start([o.pk for o in (*items, late)], actor=finance, effective_on=on)
    assert BulkApply.objects.get(pk=first.pk).effective_on == on  # stored: the worker reads it from there
    bulk.run_bulk(bulk_id=first.pk)
    for opp in items:
        assert (segment_on(opp.plan_line, on).quantity, segment_on(opp.plan_line, on - day).quantity) == (15, 10)
        opp.refresh_from_db()
        assert (opp.state, opp.applied_from) == ("applied", on)
    failed = BulkApplyItem.objects.get(opportunity=late)
    assert (failed.state, failed.message) == (
        "failed",
        "1 Mar 2026 is before the line starts (1 May 2026); choose a date from then on.",
    )
    assert ContractLine.objects.get(pk=late.plan_line_id).quantity == 10


def test_a_bulk_date_more_than_a_year_ahead_fails_each_item_with_the_reason(finance, product):
    items = [raise_quantity_opportunity(line=billed_line(product=product)) for _ in range(2)]
    first, _ = _start([o.pk for o in items], actor=finance, effective_on=this_month() + dt.timedelta(days=800))
    bulk.run_bulk(bulk_id=first.pk)
    messages = list(BulkApplyItem.objects.values_list("state", "message"))
    assert len(messages) == 2 and all(state == "failed" and "more than a year ahead" in m for state, m in messages)
    assert not ContractChange.objects.exists()
