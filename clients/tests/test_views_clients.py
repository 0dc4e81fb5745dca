import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from clients.tests.factories import ClientFactory, ContractFactory, ContractLineFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_the_list_shows_each_client_with_its_mrr(viewer_client):
    line = ContractLineFactory(contract__client__name="Abbott & Finch", quantity=10, unit_price=Decimal("45.00"))
    response = viewer_client.get(reverse("clients:list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Abbott &amp; Finch" in body
    assert "450.00" in body
    assert reverse("clients:detail", args=[line.contract.client_id]) in body


def test_search_matches_name_and_external_ids(viewer_client):
    ClientFactory(name="Birchwood Dental", rmm_id="RMM-77")
    ClientFactory(name="Calder Logistics")
    by_name = viewer_client.get(reverse("clients:list"), {"q": "birch"}).content.decode()
    assert "Birchwood Dental" in by_name and "Calder Logistics" not in by_name
    by_id = viewer_client.get(reverse("clients:list"), {"q": "rmm-77"}).content.decode()
    assert "Birchwood Dental" in by_id and "Calder Logistics" not in by_id


def test_filters_by_service_status_and_contract(viewer_client):
    ClientFactory(name="Suspended Co", service_status="suspended")
    ContractLineFactory(contract__client__name="Contracted Co")
    ClientFactory(name="Idle Co")
    body = viewer_client.get(reverse("clients:list"), {"service_status": "suspended"}).content.decode()
    assert "Suspended Co" in body and "Idle Co" not in body
    body = viewer_client.get(reverse("clients:list"), {"has_contract": "yes"}).content.decode()
    assert "Contracted Co" in body and "Idle Co" not in body


def test_sorting_by_mrr_puts_the_biggest_client_first(viewer_client):
    ContractLineFactory(contract__client__name="Small", quantity=1)
    ContractLineFactory(contract__client__name="Big", quantity=100)
    body = viewer_client.get(reverse("clients:list"), {"sort": "-mrr"}).content.decode()
    assert body.index("Big") < body.index("Small")


def test_a_bad_filter_value_is_a_400_with_a_message_not_a_500(viewer_client):
    response = viewer_client.get(reverse("clients:list"), {"service_status": "bogus", "sort": "drop table"})
    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_a_bad_page_number_shows_a_page_rather_than_failing(viewer_client):
    ClientFactory()
    assert viewer_client.get(reverse("clients:list"), {"page": "abc"}).status_code == 200
    assert viewer_client.get(reverse("clients:list"), {"page": "999"}).status_code == 200


def test_htmx_requests_get_only_the_table_fragment(viewer_client):
    ClientFactory(name="Fragment Co")
    response = viewer_client.get(reverse("clients:list"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'id="client-table"' in body and "Fragment Co" in body
    assert "<html" not in body
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize("clients", [3, 30])
def test_the_list_runs_a_fixed_number_of_queries(viewer_client, django_assert_num_queries, clients):
    for _ in range(clients):
        ContractLineFactory()
    # 1 session, 2 user, 3 user's own permissions, 4 the user's group permissions,
    # 5 count for the paginator, 6 the page of clients with MRR and contracts in force
    # annotated as subqueries, 7 the unread-notification count for the header bell.
    with django_assert_num_queries(7):
        assert viewer_client.get(reverse("clients:list")).status_code == 200


def test_the_client_page_shows_contracts_lines_and_mrr(viewer_client):
    client = ClientFactory(name="Dunmore Architects")
    contract = ContractFactory(client=client, number="AGR-9", name="Managed services agreement")
    ContractLineFactory(
        contract=contract, product=ProductFactory(name="Managed workstation"), quantity=12, unit_price=Decimal("45.00")
    )
    ContractLineFactory(
        contract=contract,
        product=ProductFactory(name="Microsoft 365 Business Premium"),
        quantity=12,
        unit_price=Decimal("22.00"),
    )
    old = ContractFactory(client=client, number="AGR-OLD", start_date=dt.date(2020, 1, 1), end_date=dt.date(2021, 1, 1))
    ContractLineFactory(contract=old, quantity=50, unit_price=Decimal("10.00"))
    body = viewer_client.get(reverse("clients:detail", args=[client.pk])).content.decode()
    assert "Managed workstation" in body and "Microsoft 365 Business Premium" in body
    assert "540.00" in body and "264.00" in body
    assert "804.00" in body  # MRR: only the contract in force
    assert "Not in force" in body


def test_an_unknown_client_is_a_404(viewer_client):
    assert viewer_client.get(reverse("clients:detail", args=[999999])).status_code == 404


def test_viewers_do_not_see_admin_links_but_admins_do(viewer_client, client, admin_user):
    target = ClientFactory()
    body = viewer_client.get(reverse("clients:detail", args=[target.pk])).content.decode()
    assert "data-admin-only" not in body
    client.force_login(admin_user)
    body = client.get(reverse("clients:detail", args=[target.pk])).content.decode()
    assert "Edit in admin" in body and "Django admin" in body
