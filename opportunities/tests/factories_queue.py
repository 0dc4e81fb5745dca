"""Factories for the queue tests: clients, contracts, lines and opportunities with apply plans."""

import datetime as dt
from decimal import Decimal

import factory

from clients.tests import factories as base
from opportunities.models import (
    SEVERITY_RANK,
    DetectionRun,
    Opportunity,
    OpportunityKind,
    OpportunityState,
    PlanAction,
    Severity,
)


class ClientFactory(base.ClientFactory):
    psa_id = rmm_id = distributor_id = ""


class ProductFactory(base.ProductFactory):
    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    unit_price = Decimal("25.00")


class ContractFactory(base.ContractFactory):
    client = factory.SubFactory(ClientFactory)
    number = factory.Sequence(lambda n: f"C-{n:05d}")
    name = "Managed services"
    start_date = dt.date(2020, 1, 1)


class ContractLineFactory(base.ContractLineFactory):
    contract = factory.SubFactory(ContractFactory)
    product = factory.SubFactory(ProductFactory)
    unit_price = Decimal("25.00")


class OpportunityFactory(factory.django.DjangoModelFactory):
    """An open unbilled item with no plan; use the helpers below for plans."""

    class Meta:
        model = Opportunity

    client = factory.SubFactory(ClientFactory)
    client_name = factory.LazyAttribute(lambda o: o.client.name)
    kind = OpportunityKind.UNBILLED
    product = factory.SubFactory(ProductFactory)
    source_key = factory.LazyAttribute(lambda o: f"product:{o.product.pk}" if o.product else "device_type:server")
    state = OpportunityState.OPEN
    severity = Severity.MEDIUM
    severity_rank = factory.LazyAttribute(lambda o: SEVERITY_RANK[o.severity])
    description = factory.LazyAttribute(lambda o: f"Devices not billed: {o.product.name if o.product else 'unmapped'}")
    root_cause = "The RMM shows devices that no contract line bills."
    suggested_action = "Add a contract line"
    monthly_impact = Decimal("150.00")
    expected_quantity = 6
    billed_quantity = 0


def add_line_opportunity(*, client=None, product=None, quantity=6, price=Decimal("25.00"), **kwargs) -> Opportunity:
    """An open, ready unbilled item whose plan adds a line to an in-force contract."""
    client = client or ClientFactory()
    product = product or ProductFactory(unit_price=price)
    contract = kwargs.pop("contract", None) or ContractFactory(client=client)
    return OpportunityFactory(
        client=client,
        product=product,
        kind=OpportunityKind.UNBILLED,
        ready_to_apply=True,
        plan_action=PlanAction.ADD_LINE,
        plan_contract=contract,
        plan_product=product,
        plan_from_quantity=0,
        plan_to_quantity=quantity,
        plan_unit_price=price,
        plan_monthly_delta=price * quantity,
        monthly_impact=kwargs.pop("monthly_impact", price * quantity),
        expected_quantity=quantity,
        **kwargs,
    )


def raise_quantity_opportunity(*, line=None, to_quantity=15, **kwargs) -> Opportunity:
    """An open, ready quantity gap on ``line`` (a new line of 10 by default)."""
    line = line or ContractLineFactory()
    delta = line.unit_price * (to_quantity - line.quantity)
    return OpportunityFactory(
        client=line.contract.client,
        product=line.product,
        kind=OpportunityKind.QUANTITY_GAP,
        description=f"{line.product.name}: {to_quantity} in use, {line.quantity} billed",
        suggested_action="Raise the line's quantity",
        ready_to_apply=True,
        plan_action=PlanAction.RAISE_QUANTITY,
        plan_contract=line.contract,
        plan_line=line,
        plan_product=line.product,
        plan_from_quantity=line.quantity,
        plan_to_quantity=to_quantity,
        plan_unit_price=line.unit_price,
        plan_monthly_delta=delta,
        monthly_impact=kwargs.pop("monthly_impact", delta),
        expected_quantity=to_quantity,
        billed_quantity=line.quantity,
        **kwargs,
    )


def migrate_product_opportunity(*, line=None, new_product=None, **kwargs) -> Opportunity:
    """An open, ready unmigrated item: ``line`` bills a retired product, ``new_product`` replaces it."""
    line = line or ContractLineFactory(product=ProductFactory(retired=True))
    new_product = new_product or ProductFactory(unit_price=Decimal("30.00"))
    delta = (new_product.unit_price - line.unit_price) * line.quantity
    return OpportunityFactory(
        client=line.contract.client,
        product=line.product,
        kind=OpportunityKind.UNMIGRATED,
        description=f"{line.product.name} is retired: migrate to {new_product.name}",
        suggested_action="Migrate the line to the new product",
        ready_to_apply=True,
        plan_action=PlanAction.MIGRATE_PRODUCT,
        plan_contract=line.contract,
        plan_line=line,
        plan_product=new_product,
        plan_from_quantity=line.quantity,
        plan_to_quantity=line.quantity,
        plan_unit_price=new_product.unit_price,
        plan_monthly_delta=delta,
        monthly_impact=kwargs.pop("monthly_impact", max(delta, Decimal("0.00"))),
        **kwargs,
    )


def detection_run(**kwargs) -> DetectionRun:
    from django.utils import timezone

    values = {
        "trigger": DetectionRun.Trigger.MANUAL,
        "status": DetectionRun.Status.SUCCEEDED,
        "finished_at": timezone.now(),
        "duration_ms": 1234,
        "clients_examined": 3,
        "devices_examined": 40,
        "subscriptions_examined": 12,
        "lines_examined": 9,
        "created": 2,
    }
    values.update(kwargs)
    return DetectionRun.objects.create(**values)
