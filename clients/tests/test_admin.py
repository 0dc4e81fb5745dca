import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from clients.models import ContractChange, ContractLine
from clients.tests.factories import ClientFactory, ContractLineFactory

pytestmark = pytest.mark.django_db


def test_admin_changelists_have_search_and_filters(admin_client_):
    for name in ["client", "product", "contract", "contractline", "contractchange", "servicestatuschange"]:
        response = admin_client_.get(reverse(f"admin:clients_{name}_changelist"), {"q": "x"})
        assert response.status_code == 200, name


def _change_line(admin_client_, line, follow=False, **data):
    url = reverse("admin:clients_contractline_change", args=[line.pk])
    body = {"product": line.product_id, "quantity": line.quantity, "unit_price": str(line.unit_price)}
    return admin_client_.post(url, {**body, "external_id": "", **data}, follow=follow)


def test_changing_a_line_in_admin_is_a_dated_change_recorded_with_who(admin_client_, admin_user):
    line = ContractLineFactory(quantity=5, unit_price=Decimal("10.00"), contract__start_date=dt.date(2026, 1, 1))
    response = _change_line(admin_client_, line, quantity=8, effective_on="2026-03-11")
    assert response.status_code == 302
    line.refresh_from_db()
    assert (line.quantity, line.end_date) == (5, dt.date(2026, 3, 10))
    new = line.replaced_by.get()
    assert (new.quantity, new.start_date, new.end_date) == (8, dt.date(2026, 3, 11), None)
    change = ContractChange.objects.get(line=new)
    assert change.actor == admin_user and change.source == "admin" and "8 ×" in change.detail
    assert "11 Mar 2026" in change.detail or "2026-03-11" in change.detail


def test_a_change_dated_before_the_line_starts_is_refused_and_changes_nothing(admin_client_):
    line = ContractLineFactory(quantity=5, contract__start_date=dt.date(2026, 1, 1))
    response = _change_line(admin_client_, line, quantity=8, effective_on="2025-12-31", follow=True)
    assert response.status_code == 200
    assert "not in force on" in response.content.decode()
    line.refresh_from_db()
    assert line.quantity == 5 and not line.replaced_by.exists()
    assert not ContractChange.objects.filter(contract=line.contract).exists()


def test_adding_a_line_in_admin_starts_it_with_the_contract_and_records_it(admin_client_, admin_user):
    line = ContractLineFactory(contract__start_date=dt.date(2026, 2, 1))
    url = reverse("admin:clients_contractline_add")
    data = {"contract": line.contract_id, "product": line.product_id, "quantity": 3, "unit_price": "4.50"}
    assert admin_client_.post(url, {**data, "start_date": "", "external_id": ""}).status_code == 302
    added = ContractLine.objects.exclude(pk=line.pk).get(contract=line.contract)
    assert (added.quantity, added.start_date) == (3, dt.date(2026, 2, 1))
    assert ContractChange.objects.get(line=added).actor == admin_user


def test_a_line_an_issued_invoice_billed_cannot_be_deleted_in_admin(admin_client_):
    from invoices.models import InvoiceLine
    from invoices.tests.factories import billed

    line = ContractLineFactory()
    invoice = billed(line.contract.client, "50.00")
    InvoiceLine.objects.filter(invoice=invoice).update(contract_line=line, period=dt.date(2026, 1, 1))
    url = reverse("admin:clients_contractline_delete", args=[line.pk])
    assert admin_client_.post(url, {"post": "yes"}).status_code == 403
    assert ContractLine.objects.filter(pk=line.pk).exists()


def test_deleting_a_never_billed_line_in_admin_is_recorded(admin_client_, admin_user):
    line = ContractLineFactory()
    url = reverse("admin:clients_contractline_delete", args=[line.pk])
    assert admin_client_.post(url, {"post": "yes"}).status_code == 302
    assert not ContractLine.objects.filter(pk=line.pk).exists()
    assert ContractChange.objects.get(contract=line.contract, action="line_removed").actor == admin_user


def test_setting_a_contract_inactive_in_admin_ends_its_lines(admin_client_):
    line = ContractLineFactory(contract__start_date=dt.date(2026, 1, 1))
    contract = line.contract
    url = reverse("admin:clients_contract_change", args=[contract.pk])
    data = {
        "client": contract.client_id,
        "number": contract.number,
        "name": contract.name,
        "start_date": "2026-01-01",
        "end_date": "",
        "billing_timing": contract.billing_timing,
        "lines-TOTAL_FORMS": "0",
        "lines-INITIAL_FORMS": "0",
    }
    assert admin_client_.post(url, data).status_code == 302
    line.refresh_from_db()
    assert line.end_date is not None


def test_changing_service_status_in_admin_goes_through_the_service(admin_client_, admin_user):
    client = ClientFactory()
    url = reverse("admin:clients_client_change", args=[client.pk])
    data = {
        "name": client.name,
        "psa_id": client.psa_id,
        "rmm_id": client.rmm_id,
        "distributor_id": client.distributor_id,
        "service_status": "limited",
    }
    assert admin_client_.post(url, data).status_code == 302
    change = client.status_changes.get()
    assert change.to_status == "limited" and change.actor == admin_user


def test_audit_trails_are_read_only_in_admin(admin_client_):
    assert admin_client_.get(reverse("admin:clients_contractchange_add")).status_code == 403


def test_finance_cannot_enter_django_admin(finance_client):
    response = finance_client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
