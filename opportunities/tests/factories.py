"""Shared factories for the missed-billing tests (sources, rules, contracts)."""

import datetime as dt
from decimal import Decimal

import factory

from clients.models import ProductCategory
from clients.tests import factories as base
from opportunities.models import Device, DeviceType, MappingRule, RuleKind, Subscription


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
