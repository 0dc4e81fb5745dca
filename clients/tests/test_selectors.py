import datetime as dt
from decimal import Decimal

import pytest

from clients import selectors
from clients.dates import org_today
from clients.models import ContractLine
from clients.services import change_contract_line, end_contract_lines
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


def _changed_from_last_month(line, quantity):
    """The line changed from the first of this month: last month's segment ended, a new one in force."""
    first = org_today().replace(day=1)
    if org_today().day == 1:  # today is the first: the change must still lie before today
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return change_contract_line(line, quantity=quantity, effective_on=first)


def test_mrr_counts_only_the_segment_in_force_not_ended_or_later_ones():
    client = ClientFactory()
    contract = ContractFactory(client=client, start_date=dt.date(2020, 1, 1))
    line = ContractLineFactory(contract=contract, quantity=10, unit_price=Decimal("40.00"))
    _changed_from_last_month(line, 15)  # 10 until then, 15 now
    ContractLineFactory(
        contract=contract, quantity=99, unit_price=Decimal("1.00"), start_date=org_today() + dt.timedelta(days=40)
    )
    ContractLineFactory(
        contract=contract,
        quantity=7,
        unit_price=Decimal("1.00"),
        start_date=dt.date(2021, 1, 1),
        end_date=dt.date(2021, 12, 31),
    )
    assert ContractLine.objects.filter(contract=contract).count() == 4
    assert selectors.client_list().get(pk=client.pk).mrr == Decimal("600.00")
    assert selectors.client_mrr(client) == Decimal("600.00")
    assert selectors.portfolio_summary()["mrr"] == Decimal("600.00")
    page = selectors.client_page(client)
    assert page["mrr"] == Decimal("600.00")
    (shown,) = page["contracts"]
    assert [(x.quantity, x.unit_price) for x in shown.current_lines] == [(15, Decimal("40.00"))]
    assert sorted((x.quantity, x.ended) for x in shown.other_lines) == [(7, True), (10, True), (99, False)]
    assert shown.monthly_total == Decimal("600.00")


def test_mrr_on_a_past_day_reads_the_segment_in_force_then():
    client = ClientFactory()
    contract = ContractFactory(client=client, start_date=dt.date(2020, 1, 1))
    line = ContractLineFactory(contract=contract, quantity=10, unit_price=Decimal("40.00"))
    new = _changed_from_last_month(line, 15)
    before = new.start_date - dt.timedelta(days=1)
    assert selectors.client_mrr(client, before) == Decimal("400.00")
    assert selectors.client_page(client, before)["mrr"] == Decimal("400.00")
    assert selectors.client_list().get(pk=client.pk).mrr == Decimal("600.00")


def test_the_client_page_lists_the_contract_history_newest_first_in_one_query(django_assert_num_queries, finance):
    client = ClientFactory()
    contract = ContractFactory(client=client, start_date=dt.date(2020, 1, 1))
    line = ContractLineFactory(contract=contract, quantity=10, unit_price=Decimal("40.00"))
    change_contract_line(line, quantity=12, effective_on=dt.date(2025, 3, 1), actor=finance)
    end_contract_lines(contract=contract, on=dt.date(2025, 12, 31), actor=finance)
    with django_assert_num_queries(1):
        history = selectors.contract_history(client)
        details = [(c.actor.username, c.contract.number, c.detail) for c in history]
    assert [d[2].split(" ")[0] for d in details] == ["Ended", "Set"]
    assert "from 1 Mar 2025" in details[1][2] and details[0][:2] == ("fran", contract.number)
