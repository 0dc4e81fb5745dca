"""The dated contract-line services at their edges: add, change from a date, end, remove."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from clients import billing_calendar
from clients.models import ContractChange, ContractLine
from clients.services import (
    add_contract_line,
    change_contract_line,
    end_contract_line,
    end_contracts,
    remove_contract_line,
)
from clients.tests.factories import ClientFactory, ContractFactory, ContractLineFactory, ProductFactory

pytestmark = pytest.mark.django_db
D = dt.date


def history(contract):
    """(start, end, quantity, price, sku) of every segment of the contract, in date order."""
    return list(
        ContractLine.objects.filter(contract=contract)
        .order_by("start_date", "id")
        .values_list("start_date", "end_date", "quantity", "unit_price", "product__sku")
    )


@pytest.fixture
def line():
    contract = ContractFactory(start_date=D(2026, 1, 1))
    return ContractLineFactory(
        contract=contract, product=ProductFactory(sku="MS-WS"), quantity=10, unit_price=Decimal("40.50")
    )


def bill(line):
    """An issued invoice that billed ``line`` (what makes it undeletable)."""
    from invoices.models import InvoiceLine
    from invoices.tests.factories import billed

    invoice = billed(line.contract.client, "405.00")
    InvoiceLine.objects.filter(invoice=invoice).update(contract_line=line, period=D(2026, 1, 1))


def test_a_change_mid_segment_ends_it_the_day_before_and_starts_a_new_segment(line, admin_user):
    new = change_contract_line(line, quantity=15, effective_on=D(2027, 1, 11), actor=admin_user)
    assert history(line.contract) == [
        (D(2026, 1, 1), D(2027, 1, 10), 10, Decimal("40.50"), "MS-WS"),
        (D(2027, 1, 11), None, 15, Decimal("40.50"), "MS-WS"),
    ]
    assert new.replaces_id == line.pk and new.pk != line.pk
    change = ContractChange.objects.get(line=new)
    assert change.detail == "Set 15 × MS-WS at 40.50 from 11 Jan 2027 (was 10 × MS-WS at 40.50)"
    assert (change.actor, change.source, change.action) == (admin_user, "console", "line_changed")


def test_a_change_on_the_segments_own_start_edits_it_in_place(line):
    same = change_contract_line(line, unit_price="42.00", effective_on=D(2026, 1, 1))
    assert same.pk == line.pk
    assert history(line.contract) == [(D(2026, 1, 1), None, 10, Decimal("42.00"), "MS-WS")]


def test_a_change_keeps_later_segments_as_they_are(line):
    later = change_contract_line(line, quantity=20, effective_on=D(2026, 6, 1))
    middle = change_contract_line(line, quantity=12, effective_on=D(2026, 3, 1))
    assert history(line.contract) == [
        (D(2026, 1, 1), D(2026, 2, 28), 10, Decimal("40.50"), "MS-WS"),
        (D(2026, 3, 1), D(2026, 5, 31), 12, Decimal("40.50"), "MS-WS"),
        (D(2026, 6, 1), None, 20, Decimal("40.50"), "MS-WS"),
    ]
    later.refresh_from_db()
    assert later.replaces_id == middle.pk and middle.replaces_id == line.pk  # one chain, in date order


def test_an_older_segment_given_changes_the_segment_in_force_on_the_date(line):
    change_contract_line(line, quantity=20, effective_on=D(2026, 6, 1))
    change_contract_line(line, quantity=25, effective_on=D(2026, 9, 1))  # line now ends 31 May
    assert [row[2] for row in history(line.contract)] == [10, 20, 25]


@pytest.mark.parametrize("day", [D(2025, 12, 31)])
def test_a_date_outside_the_lines_dates_is_refused_and_changes_nothing(line, day):
    with pytest.raises(ValidationError, match="not in force on 31 Dec 2025"):
        change_contract_line(line, quantity=15, effective_on=day)
    end_contract_line(line, on=D(2026, 3, 31))
    with pytest.raises(ValidationError, match="not in force on 1 Apr 2026"):
        change_contract_line(line, quantity=15, effective_on=D(2026, 4, 1))
    assert [row[2] for row in history(line.contract)] == [10]
    assert not ContractChange.objects.filter(action="line_changed").exists()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"quantity": -1}, "whole number"),
        ({"quantity": "1.5"}, "whole number"),
        ({"unit_price": "-0.01"}, "to the cent"),
        ({"unit_price": "1.005"}, "to the cent"),
        ({"unit_price": 1.5}, "not a float"),
    ],
)
def test_bad_figures_are_refused_with_a_message(line, values, message):
    with pytest.raises(ValidationError, match=message):
        change_contract_line(line, effective_on=D(2026, 5, 1), **values)
    assert history(line.contract) == [(D(2026, 1, 1), None, 10, Decimal("40.50"), "MS-WS")]


def test_a_change_with_nothing_different_is_a_no_op(line):
    assert change_contract_line(line, quantity=10, unit_price="40.50", effective_on=D(2026, 5, 1)) == line
    assert len(history(line.contract)) == 1 and not ContractChange.objects.exists()


def test_a_product_change_from_a_date_keeps_the_external_id(line):
    line.external_id = "L-7"
    line.save()
    new = change_contract_line(line, product=ProductFactory(sku="MS-WS2"), effective_on=D(2026, 5, 1))
    assert (new.product.sku, new.external_id) == ("MS-WS2", "L-7")


def test_add_starts_a_line_on_its_date_within_the_contract(line):
    added = add_contract_line(
        contract=line.contract,
        product=ProductFactory(sku="M365"),
        quantity=3,
        unit_price="12.00",
        start_date=D(2026, 2, 1),
    )
    assert (added.start_date, added.end_date) == (D(2026, 2, 1), None)
    assert ContractChange.objects.get(line=added).detail == "Added 3 × M365 at 12.00 from 1 Feb 2026"
    with pytest.raises(ValidationError, match="before contract"):
        add_contract_line(
            contract=line.contract, product=added.product, quantity=1, unit_price="1", start_date=D(2025, 1, 1)
        )


def test_end_sets_the_last_day_in_force_and_refuses_a_day_before_a_billed_start(line):
    ended = end_contract_line(line, on=D(2026, 3, 31))
    assert ended.end_date == D(2026, 3, 31)
    assert "last day in force 31 Mar 2026" in ContractChange.objects.get(action="ended").detail
    assert end_contract_line(line, on=D(2026, 6, 30)).end_date == D(2026, 3, 31)  # already ended: no-op
    bill(line)
    with pytest.raises(ValidationError, match="issued invoice billed"):
        end_contract_line(line, on=D(2025, 12, 31))


def test_ending_before_later_segments_removes_those_never_billed(line):
    change_contract_line(line, quantity=20, effective_on=D(2026, 6, 1))
    end_contract_line(line, on=D(2026, 4, 30))
    assert history(line.contract) == [(D(2026, 1, 1), D(2026, 4, 30), 10, Decimal("40.50"), "MS-WS")]


def test_a_billed_line_cannot_be_removed_but_a_mistake_can(line):
    bill(line)
    with pytest.raises(ValidationError, match="cannot be deleted"):
        remove_contract_line(line)
    mistake = ContractLineFactory(contract=line.contract)
    remove_contract_line(mistake)
    assert list(ContractLine.objects.values_list("pk", flat=True)) == [line.pk]
    assert ContractChange.objects.filter(action="line_removed").count() == 1


def test_terminate_commitments_ends_the_contracts_lines_on_the_same_date(line):
    ended = ContractLineFactory(contract=line.contract, end_date=D(2026, 2, 28))
    assert end_contracts(client=line.contract.client, on=D(2026, 10, 31), reason="Collections") == 1
    line.refresh_from_db()
    ended.refresh_from_db()
    assert line.end_date == D(2026, 10, 31) and ended.end_date == D(2026, 2, 28)
    assert ContractChange.objects.filter(line=line, action="ended", detail__contains="Collections").exists()


def test_first_unbilled_month_asks_the_provider_else_this_month():
    client = ClientFactory()
    from clients.dates import org_today

    assert billing_calendar.first_unbilled_month(client.pk) == org_today().replace(day=1)

    def provider(client_id):
        return D(2026, 11, 1) if client_id == client.pk else None

    billing_calendar.register(provider)
    try:
        assert billing_calendar.first_unbilled_month(client.pk) == D(2026, 11, 1)
        assert billing_calendar.first_unbilled_month(client.pk + 1) == org_today().replace(day=1)
    finally:
        billing_calendar.unregister(provider)


def test_first_unbilled_months_asks_a_provider_for_many_clients_once():
    from clients.dates import org_today

    asked = []

    def one(client_id):
        raise AssertionError("asked one by one")

    def many(client_ids):
        asked.append(sorted(client_ids))
        return {pk: D(2026, 10, 15) for pk in client_ids if pk % 2}

    billing_calendar.register(one, many=many)
    try:
        months = billing_calendar.first_unbilled_months([3, 4, 5])
    finally:
        billing_calendar.unregister(one)
    assert asked == [[3, 4, 5]]
    assert months == {3: D(2026, 10, 1), 4: org_today().replace(day=1), 5: D(2026, 10, 1)}
