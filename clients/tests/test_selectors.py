import datetime as dt
from decimal import Decimal

import pytest

from clients import selectors
from clients.tests.factories import ClientFactory, ContractFactory, ContractLineFactory

pytestmark = pytest.mark.django_db


def test_mrr_counts_only_contracts_in_force_today():
    client = ClientFactory()
    running = ContractFactory(client=client, start_date=dt.date(2020, 1, 1))
    ContractLineFactory(contract=running, quantity=12, unit_price=Decimal("45.50"))
    ended = ContractFactory(client=client, start_date=dt.date(2020, 1, 1), end_date=dt.date(2021, 1, 1))
    ContractLineFactory(contract=ended, quantity=99, unit_price=Decimal("10.00"))
    inactive = ContractFactory(client=client, active=False)
    ContractLineFactory(contract=inactive, quantity=5, unit_price=Decimal("10.00"))
    future = ContractFactory(client=client, start_date=dt.date(2099, 1, 1))
    ContractLineFactory(contract=future, quantity=5, unit_price=Decimal("10.00"))

    row = selectors.client_list().get(pk=client.pk)
    assert row.mrr == Decimal("546.00")
    assert row.contracts_in_force == 1
    assert selectors.client_mrr(client) == Decimal("546.00")


def test_a_client_without_contracts_has_zero_mrr_not_none():
    client = ClientFactory()
    assert selectors.client_list().get(pk=client.pk).mrr == Decimal("0.00")


def test_portfolio_summary_totals_mrr_across_clients():
    ContractLineFactory(quantity=2, unit_price=Decimal("0.10"))
    ContractLineFactory(quantity=1, unit_price=Decimal("0.20"))
    assert selectors.portfolio_summary()["mrr"] == Decimal("0.40")
