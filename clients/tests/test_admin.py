from decimal import Decimal

import pytest
from django.urls import reverse

from clients.models import ContractChange
from clients.tests.factories import ClientFactory, ContractLineFactory

pytestmark = pytest.mark.django_db


def test_admin_changelists_have_search_and_filters(admin_client_):
    for name in ["client", "product", "contract", "contractline", "contractchange", "servicestatuschange"]:
        response = admin_client_.get(reverse(f"admin:clients_{name}_changelist"), {"q": "x"})
        assert response.status_code == 200, name


def test_changing_a_line_in_admin_is_recorded_with_who(admin_client_, admin_user):
    line = ContractLineFactory(quantity=5, unit_price=Decimal("10.00"))
    url = reverse("admin:clients_contractline_change", args=[line.pk])
    response = admin_client_.post(
        url,
        {
            "contract": line.contract_id,
            "product": line.product_id,
            "quantity": 8,
            "unit_price": "10.00",
            "external_id": "",
        },
    )
    assert response.status_code == 302
    change = ContractChange.objects.get(line=line)
    assert change.actor == admin_user and "8 ×" in change.detail


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
