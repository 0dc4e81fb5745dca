"""factory-boy factories for clients, products and contracts (Decimal money throughout)."""

import datetime as dt
from decimal import Decimal

import factory

from clients.models import Client, Contract, ContractLine, Product, ProductCategory


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"Client {n:04d} Ltd")
    psa_id = factory.Sequence(lambda n: f"PSA-{n}")
    rmm_id = factory.Sequence(lambda n: f"RMM-{n}")
    distributor_id = factory.Sequence(lambda n: f"PAX-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n}")
    name = factory.Sequence(lambda n: f"Product {n}")
    unit_price = Decimal("45.00")
    category = ProductCategory.MANAGED_DEVICE


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    client = factory.SubFactory(ClientFactory)
    number = factory.Sequence(lambda n: f"AGR-{n}")
    name = "Managed services agreement"
    start_date = dt.date(2025, 1, 1)


class ContractLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContractLine

    contract = factory.SubFactory(ContractFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 10
    unit_price = Decimal("45.00")
