"""Factories for the missed-billing tests: sources, rules and contracts (on the clients'
factories), and opportunities with apply plans."""

import datetime as dt
from decimal import Decimal

import factory

from clients.dates import org_today
from clients.models import ContractLine, ProductCategory
from clients.tests import factories as base
from opportunities.models import (
    SEVERITY_RANK,
    DetectionRun,
    Device,
    DeviceType,
    MappingRule,
    Opportunity,
    OpportunityKind,
    OpportunityState,
    PlanAction,
    RuleKind,
    Severity,
    Subscription,
)


class ClientFactory(base.ClientFactory):
    name = factory.Sequence(lambda n: f"Client {n:03d}")


class ProductFactory(base.ProductFactory):
    unit_price = Decimal("10.00")


class ContractFactory(base.ContractFactory):
    client = factory.SubFactory(ClientFactory)
    name = "Managed services"
    start_date = dt.date(2024, 1, 1)


class ContractLineFactory(base.ContractLineFactory):
    contract = factory.SubFactory(ContractFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1
    unit_price = factory.LazyAttribute(lambda o: o.product.unit_price)


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    device_id = factory.Sequence(lambda n: f"dev-{n}")
    client = factory.SubFactory(ClientFactory)
    hostname = factory.Sequence(lambda n: f"WS-{n:04d}")
    device_type = DeviceType.WORKSTATION
    last_seen = None


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    subscription_id = factory.Sequence(lambda n: f"sub-{n}")
    client = factory.SubFactory(ClientFactory)
    vendor_sku = "CFQ7TTC0LCHC"
    product_name = "Microsoft 365 Business Premium"
    quantity = 10


class DeviceRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MappingRule

    kind = RuleKind.DEVICE
    device_type = DeviceType.WORKSTATION
    product = factory.SubFactory(ProductFactory)


class SkuRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MappingRule

    kind = RuleKind.SUBSCRIPTION
    vendor_sku = "CFQ7TTC0LCHC"
    product = factory.SubFactory(ProductFactory, category=ProductCategory.LICENCE)


class MigrationRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MappingRule

    kind = RuleKind.MIGRATION
    from_product = factory.SubFactory(ProductFactory, retired=True)
    product = factory.SubFactory(ProductFactory)


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


def this_month() -> dt.date:
    """Where an apply takes effect by default when nothing has been billed yet: the first day of
    the organisation's current month (``clients.billing_calendar``)."""
    return org_today().replace(day=1)


def segment_on(line, on: dt.date | None = None):
    """The segment of ``line``'s dated chain in force on ``on`` (by default the first day of this
    month): what the contract bills for that day, after any change that made a new segment."""
    on = on or this_month()
    first = ContractLine.objects.get(pk=line.pk)
    while first.replaces_id:
        first = ContractLine.objects.get(pk=first.replaces_id)
    segment = first
    while segment is not None and not segment.is_in_force(on):
        segment = ContractLine.objects.filter(replaces=segment).first()
    return segment


def billed_line(**kwargs):
    """A line of 10 at 25.00 on an in-force contract (what the plan helpers start from)."""
    values = {"quantity": 10, "unit_price": Decimal("25.00"), "product__unit_price": Decimal("25.00")} | kwargs
    if "product" in kwargs:
        values.pop("product__unit_price")
    return ContractLineFactory(**values)


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
    line = line or billed_line()
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
    line = line or billed_line(product=ProductFactory(retired=True, unit_price=Decimal("25.00")))
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


def select(user, items) -> dict:
    """Tick ``items`` for ``user``'s next bulk apply; returns the confirm form's fields."""
    import uuid

    from opportunities.models import SelectedItem
    from opportunities.services.selection import selection_token

    SelectedItem.objects.bulk_create(SelectedItem(user=user, opportunity=o) for o in items)
    return {"key": uuid.uuid4().hex, "token": selection_token([o.pk for o in items])}
