"""Detection: what it finds, how it plans, and how re-runs behave (SPEC 2.1, 2.2)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from opportunities.models import (
    DetectionRun,
    DetectionSettings,
    Device,
    Opportunity,
    OpportunityEvent,
    OpportunityKind,
    OpportunityState,
    PlanAction,
)
from opportunities.services.detection import run_detection
from opportunities.signals import detection_finished

from .factories import (
    ClientFactory,
    ContractFactory,
    ContractLineFactory,
    DeviceFactory,
    DeviceRuleFactory,
    MigrationRuleFactory,
    ProductFactory,
    SkuRuleFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 22)


def detect(**kwargs):
    return run_detection(trigger=DetectionRun.Trigger.COMMAND, today=TODAY, **kwargs)


@pytest.fixture
def ws():
    return ProductFactory(name="Managed workstation", unit_price=Decimal("45.00"))


@pytest.fixture
def acme():
    return ClientFactory(name="Acme Ltd")


def devices(client, n, **kw):
    return [DeviceFactory(client=client, **kw) for _ in range(n)]


def test_it_finds_unbilled_devices_with_a_ready_add_line_plan(acme, ws):
    DeviceRuleFactory(product=ws)
    contract = ContractFactory(client=acme)
    devices(acme, 3)
    run = detect()
    opp = Opportunity.objects.get()
    assert (opp.kind, opp.source_key, opp.state) == (OpportunityKind.UNBILLED, f"product:{ws.pk}", "open")
    assert opp.client_name == "Acme Ltd"
    assert opp.monthly_impact == Decimal("135.00")
    assert (opp.severity, opp.severity_rank) == ("medium", 2)
    assert opp.ready_to_apply and opp.plan_action == PlanAction.ADD_LINE
    assert (opp.plan_contract, opp.plan_to_quantity, opp.plan_unit_price) == (contract, 3, Decimal("45.00"))
    assert (run.created, run.devices_examined, run.status) == (1, 3, "succeeded")
    assert opp.events.get().action == OpportunityEvent.Action.DETECTED


def test_it_sums_subscriptions_and_lines_before_comparing_and_plans_a_raise_from_the_current_quantity(acme):
    licence = ProductFactory(unit_price=Decimal("22.00"))
    SkuRuleFactory(product=licence)
    SubscriptionFactory(client=acme, quantity=10)
    SubscriptionFactory(client=acme, quantity=5)
    SubscriptionFactory(client=acme, quantity=50, status="cancelled")
    line = ContractLineFactory(contract=ContractFactory(client=acme), product=licence, quantity=12)
    detect()
    opp = Opportunity.objects.get()
    assert opp.kind == OpportunityKind.QUANTITY_GAP
    assert (opp.expected_quantity, opp.billed_quantity) == (15, 12)
    assert opp.plan_action == PlanAction.RAISE_QUANTITY and opp.ready_to_apply
    assert (opp.plan_line, opp.plan_from_quantity, opp.plan_to_quantity) == (line, 12, 15)
    assert opp.monthly_impact == Decimal("66.00")


def test_two_lines_for_the_product_are_summed_and_leave_the_raise_not_ready(acme):
    licence = ProductFactory()
    SkuRuleFactory(product=licence)
    SubscriptionFactory(client=acme, quantity=20)
    contract = ContractFactory(client=acme)
    ContractLineFactory(contract=contract, product=licence, quantity=10)
    ContractLineFactory(contract=contract, product=licence, quantity=10)
    assert detect().created == 0
    assert not Opportunity.objects.exists()
    SubscriptionFactory(client=acme, quantity=3)
    detect()
    opp = Opportunity.objects.get()
    assert opp.billed_quantity == 20 and not opp.ready_to_apply
    assert "2 lines" in opp.not_ready_reason and opp.not_ready_reason in opp.root_cause


def test_several_contracts_in_force_make_the_target_ambiguous(acme, ws):
    DeviceRuleFactory(product=ws)
    ContractFactory(client=acme, number="AGR-1")
    ContractFactory(client=acme, number="AGR-2")
    ContractFactory(client=acme, number="AGR-OLD", active=False)
    devices(acme, 2)
    detect()
    opp = Opportunity.objects.get()
    assert not opp.ready_to_apply and opp.plan_contract is None
    assert "2 contracts in force (AGR-1, AGR-2)" in opp.not_ready_reason
    assert "AGR-1" in opp.root_cause


def test_it_finds_unmigrated_products_and_counts_their_quantity_as_billing_the_replacement(acme):
    old = ProductFactory(name="Legacy plan", unit_price=Decimal("39.00"), retired=True)
    new = ProductFactory(name="Managed workstation", unit_price=Decimal("45.00"))
    MigrationRuleFactory(from_product=old, product=new)
    DeviceRuleFactory(product=new)
    line = ContractLineFactory(contract=ContractFactory(client=acme), product=old, quantity=4, unit_price="39.00")
    devices(acme, 4)
    detect()
    opp = Opportunity.objects.get()
    assert (opp.kind, opp.product, opp.plan_product) == (OpportunityKind.UNMIGRATED, old, new)
    assert opp.source_key == f"product:{old.pk}"
    assert (opp.plan_action, opp.plan_line, opp.plan_from_quantity, opp.plan_to_quantity) == (
        PlanAction.MIGRATE_PRODUCT,
        line,
        4,
        4,
    )
    assert opp.plan_monthly_delta == Decimal("24.00") and opp.ready_to_apply


def test_unmapped_devices_and_skus_become_create_rule_items_never_ready(acme):
    devices(acme, 2, device_type="server")
    SubscriptionFactory(client=acme, vendor_sku="abc-123", product_name="Mystery licence", quantity=7)
    detect()
    found = {o.source_key: o for o in Opportunity.objects.all()}
    assert set(found) == {"device_type:server", "sku:ABC-123"}
    for opp in found.values():
        assert opp.kind == OpportunityKind.UNMAPPED and opp.product is None
        assert opp.plan_action == PlanAction.CREATE_RULE and not opp.ready_to_apply and opp.not_ready_reason
    assert found["sku:ABC-123"].expected_quantity == 7
    assert "Mystery licence" in found["sku:ABC-123"].description


def test_a_rerun_with_nothing_changed_writes_nothing(acme, ws):
    DeviceRuleFactory(product=ws)
    ContractFactory(client=acme)
    devices(acme, 3, device_type="workstation")
    devices(acme, 1, device_type="network")
    detect()
    with CaptureQueriesContext(connection) as ctx:
        run = detect()
    writes = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE") and "detectionrun" not in q["sql"]
    ]
    assert writes == []
    assert (run.created, run.updated, run.resolved, run.unchanged) == (0, 0, 0, 2)


def test_open_items_update_their_figures(acme, ws):
    DeviceRuleFactory(product=ws)
    ContractFactory(client=acme)
    devices(acme, 2)
    detect()
    devices(acme, 1)
    run = detect()
    opp = Opportunity.objects.get()
    assert (opp.expected_quantity, opp.monthly_impact, run.updated) == (3, Decimal("135.00"), 1)
    assert opp.events.first().action == OpportunityEvent.Action.UPDATED


def test_a_gap_that_closed_by_itself_resolves(acme, ws):
    DeviceRuleFactory(product=ws)
    contract = ContractFactory(client=acme)
    devices(acme, 2)
    detect()
    ContractLineFactory(contract=contract, product=ws, quantity=2)
    run = detect()
    opp = Opportunity.objects.get()
    assert opp.state == OpportunityState.RESOLVED and run.resolved == 1
    assert opp.expected_quantity == 2 and "Managed workstation" in opp.description  # its last figures stay
    assert opp.events.first().action == OpportunityEvent.Action.RESOLVED


def test_ignored_stays_ignored(acme, ws):
    DeviceRuleFactory(product=ws)
    ContractFactory(client=acme)
    devices(acme, 2)
    detect()
    Opportunity.objects.update(state=OpportunityState.IGNORED)
    devices(acme, 2)
    detect()
    Device.objects.all().delete()
    detect()
    assert Opportunity.objects.get().state == OpportunityState.IGNORED


def test_snoozed_stays_snoozed_until_its_date(acme, ws):
    DeviceRuleFactory(product=ws)
    ContractFactory(client=acme)
    devices(acme, 2)
    detect()
    Opportunity.objects.update(state=OpportunityState.SNOOZED, snoozed_until=TODAY + dt.timedelta(days=1))
    detect()
    assert Opportunity.objects.get().state == OpportunityState.SNOOZED
    Opportunity.objects.update(snoozed_until=TODAY)
    received = []
    detection_finished.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-snooze")
    try:
        detect()
    finally:
        detection_finished.disconnect(dispatch_uid="t-snooze")
    opp = Opportunity.objects.get()
    assert opp.state == OpportunityState.OPEN and opp.snoozed_until is None
    assert received[0]["reopened_ids"] == [opp.pk]


def test_reviewed_returns_to_open_only_when_its_figures_change(acme, ws):
    DeviceRuleFactory(product=ws)
    ContractFactory(client=acme)
    devices(acme, 2)
    detect()
    opp = Opportunity.objects.get()
    Opportunity.objects.update(state=OpportunityState.REVIEWED, reviewed_signature=opp.figures_signature())
    detect()
    assert Opportunity.objects.get().state == OpportunityState.REVIEWED
    devices(acme, 1)
    detect()
    opp = Opportunity.objects.get()
    assert opp.state == OpportunityState.OPEN
    assert opp.events.first().action == OpportunityEvent.Action.REOPENED


def test_a_client_specific_rule_beats_a_global_one(acme, ws):
    other = ClientFactory()
    special = ProductFactory(unit_price=Decimal("60.00"))
    DeviceRuleFactory(product=ws, priority=1)
    DeviceRuleFactory(product=special, client=acme, priority=500)
    devices(acme, 1)
    devices(other, 1)
    detect()
    assert Device.objects.get(client=acme).mapped_product == special
    assert Device.objects.get(client=other).mapped_product == ws
    assert Opportunity.objects.get(client=acme).product == special


def test_exclusions_hold_for_patterns_and_devices_not_seen_for_days(acme, ws):
    DeviceRuleFactory(product=ws, priority=100)
    DeviceRuleFactory(product=None, device_type="", hostname_pattern="lab-*", exclude=True, priority=10)
    DeviceRuleFactory(product=None, device_type="", not_seen_days=30, exclude=True, priority=20)
    ContractFactory(client=acme)
    DeviceFactory(client=acme, hostname="LAB-01", last_seen=timezone.now())
    DeviceFactory(client=acme, hostname="OLD-01", last_seen=timezone.now() - dt.timedelta(days=45))
    DeviceFactory(client=acme, hostname="WS-01", last_seen=timezone.now())
    detect()
    assert sorted(Device.objects.filter(excluded=True).values_list("hostname", flat=True)) == ["LAB-01", "OLD-01"]
    assert Opportunity.objects.get().expected_quantity == 1
    detect()
    assert Device.objects.filter(excluded=True).count() == 2


def test_severity_follows_the_admin_thresholds(acme, ws):
    DeviceRuleFactory(product=ws)
    ContractFactory(client=acme)
    devices(acme, 3)  # 135.00
    detect()
    assert Opportunity.objects.get().severity == "medium"
    DetectionSettings.objects.filter(pk=1).update(high_threshold=Decimal("135.00"), medium_threshold=Decimal("50"))
    detect()
    opp = Opportunity.objects.get()
    assert (opp.severity, opp.severity_rank) == ("high", 3)


def test_it_sends_detection_finished_with_the_created_ids(acme, ws):
    DeviceRuleFactory(product=ws)
    devices(acme, 1)
    received = []
    detection_finished.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-created")
    try:
        run = detect()
    finally:
        detection_finished.disconnect(dispatch_uid="t-created")
    assert received[0]["run"] == run
    assert received[0]["created_ids"] == [Opportunity.objects.get().pk]


def test_a_run_scoped_to_one_client_leaves_the_others_alone(acme, ws):
    other = ClientFactory()
    DeviceRuleFactory(product=ws)
    devices(acme, 1)
    devices(other, 1)
    run = detect(client_ids=[acme.pk])
    assert run.clients_examined == 1 and run.devices_examined == 1
    assert list(Opportunity.objects.values_list("client", flat=True)) == [acme.pk]


def test_the_number_of_queries_does_not_grow_with_devices_or_clients(ws, django_assert_num_queries):
    DeviceRuleFactory(product=ws)
    SkuRuleFactory()
    DetectionSettings.current()

    def world(n):
        for _ in range(n):
            client = ClientFactory()
            ContractLineFactory(contract=ContractFactory(client=client), product=ws, quantity=1)
            devices(client, 3)
            devices(client, 1, device_type="server")
            SubscriptionFactory(client=client)

    # the run record; rules, products and thresholds; the client ids; then per chunk (a savepoint):
    # its clients, devices by product, their mapping written back, subscriptions by SKU, theirs
    # written back, contracts, contract lines, the open opportunities, the new ones, their events;
    # then (savepoints) the run closed and the detection_finished signal's read of new high items
    queries = 23
    world(2)
    with django_assert_num_queries(queries):
        detect()
    world(6)
    Opportunity.objects.all().delete()
    with django_assert_num_queries(queries):
        detect()


def test_a_run_that_examined_nothing_says_so():
    run = detect()
    assert run.status == "succeeded" and not run.examined_anything


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_chunks_shared_between_connections_find_every_client_once(monkeypatch, ws):
    from opportunities.services import detection

    monkeypatch.setattr(detection, "CHUNK_SIZE", 2)
    DeviceRuleFactory(product=ws)
    clients = [ClientFactory() for _ in range(7)]
    for client in clients:
        ContractFactory(client=client)
        devices(client, 3)
    assert detection._threads(4) == 2  # outside a transaction, on PostgreSQL: side by side
    run = detect()
    assert (run.clients_examined, run.devices_examined, run.created) == (7, 21, 7)
    assert sorted(Opportunity.objects.values_list("client_id", flat=True)) == sorted(c.pk for c in clients)
    again = detect()
    assert (again.created, again.updated, again.resolved, again.unchanged) == (0, 0, 0, 7)
