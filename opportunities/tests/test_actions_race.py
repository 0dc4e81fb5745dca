"""Two people apply the same item at the same moment: exactly one wins (PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection

from clients.models import ContractChange
from opportunities.models import OpportunityState
from opportunities.services.actions import ActionRefused, apply_opportunity

from .factories import raise_quantity_opportunity, segment_on

# Beat schedules and roles are there during the test and after its flush.
pytestmark = pytest.mark.usefixtures("keep_reference_data")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_threads_applying_at_once_exactly_one_wins(finance, admin_user):
    opp = raise_quantity_opportunity(to_quantity=15)
    barrier = threading.Barrier(2)
    outcomes = []

    def worker(user):
        try:
            barrier.wait(timeout=10)
            apply_opportunity(opportunity=opp, actor=user)
            outcomes.append("applied")
        except ActionRefused as exc:
            outcomes.append(f"refused: {exc}")
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=worker, args=(u,)) for u in (finance, admin_user)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(o.split(":")[0] for o in outcomes) == ["applied", "refused"]
    assert any("already applied" in o for o in outcomes)
    opp.refresh_from_db()
    new = segment_on(opp.plan_line)
    assert opp.state == OpportunityState.APPLIED and new.quantity == 15 and new.replaces_id == opp.plan_line_id
    assert ContractChange.objects.count() == 1 and ContractChange.objects.get().line == new


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_bulk_apply_on_several_connections_applies_each_item_once(finance, settings):
    from clients.models import ContractLine
    from opportunities.models import BulkApply, BulkApplyItem
    from opportunities.services.bulk import run_bulk, start_bulk_apply

    from .factories import ContractFactory, ProductFactory, billed_line

    settings.BULK_APPLY_THREADS = 3
    product = ProductFactory()
    shared = ContractFactory()  # two items on one contract: their locks meet
    lines = [billed_line(product=product) for _ in range(6)]
    lines += [billed_line(contract=shared, product=product) for _ in range(2)]
    items = [raise_quantity_opportunity(line=line, source_key=f"product:{n}") for n, line in enumerate(lines)]
    bulk, _ = start_bulk_apply(opportunity_ids=[o.pk for o in items], idempotency_key="threads", actor=finance)
    run_bulk(bulk_id=bulk.pk)
    run_bulk(bulk_id=bulk.pk)
    assert BulkApply.objects.get(pk=bulk.pk).status == BulkApply.Status.FINISHED
    assert set(BulkApplyItem.objects.filter(bulk=bulk).values_list("state", flat=True)) == {"applied"}
    assert ContractChange.objects.count() == 8
    assert {segment_on(line).quantity for line in lines} == {15}
    assert ContractLine.objects.count() == 16  # each line ended last month and continued by one new segment
