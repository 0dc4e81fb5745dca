"""The client picker: suggestions as you type, prefix matches first, at most 20; used by the
queue and invoice filters and the payment form instead of a list of every client."""

import pytest
from django.urls import reverse

from billingone.tests.html import element, elements
from clients.selectors import PICK_LIMIT, clients_matching

from .factories import ClientFactory

pytestmark = pytest.mark.django_db

PICK = reverse("clients:pick")


def names(response):
    return [option["data-pick-name"] for option in elements(response, "button", role="option")]


def test_names_starting_with_the_text_come_first_then_those_containing_it(viewer_client):
    for name in ["Northwind Dental", "Acme Dental", "Dental Partners", "Bolt Logistics"]:
        ClientFactory(name=name)
    assert names(viewer_client.get(PICK, {"client_search": "dental"})) == [
        "Dental Partners",
        "Acme Dental",
        "Northwind Dental",
    ]


def test_a_psa_id_finds_its_client(viewer_client):
    client = ClientFactory(name="Granite Clinic", psa_id="PSA-7781")
    response = viewer_client.get(PICK, {"client_search": "PSA-7781"})
    assert element(response, "button", role="option")["data-pick-id"] == str(client.pk)


def test_at_most_twenty_suggestions_and_a_hint_to_type_more(viewer_client, django_assert_num_queries):
    for n in range(PICK_LIMIT + 5):
        ClientFactory(name=f"Client {n:03d}")
    viewer_client.get(PICK, {"client_search": "client"})  # warm the session
    # session, user, user permissions, group permissions, the suggestions
    with django_assert_num_queries(5):
        response = viewer_client.get(PICK, {"client_search": "client"})
    assert len(names(response)) == PICK_LIMIT
    assert "type more to narrow" in response.content.decode()


@pytest.mark.parametrize("term", ["", "   ", "%", "_", "x" * 500, "zzz"])
def test_odd_text_finds_nothing_or_says_so(viewer_client, term):
    ClientFactory(name="Acme")
    response = viewer_client.get(PICK, {"client_search": term})
    assert response.status_code == 200 and names(response) == []
    if term.strip():
        assert "No client matches" in response.content.decode()


def test_like_wildcards_are_taken_literally():
    ClientFactory(name="100% Uptime Ltd")
    ClientFactory(name="Acme")
    assert [c.name for c in clients_matching("%")] == ["100% Uptime Ltd"]


def test_the_picker_needs_a_login(client):
    assert client.get(PICK, {"client_search": "a"}).status_code == 302


def test_the_payment_form_has_a_picker_not_a_list_of_every_client(finance_client):
    client = ClientFactory(name="Acme Dental")
    page = finance_client.get(reverse("invoices:record_payment"), {"client": client.pk})
    assert elements(page, "select", name="client") == []
    assert element(page, "input", type="hidden", name="client")["value"] == str(client.pk)
    assert element(page, "input", id="id_client")["value"] == "Acme Dental"


def test_the_invoice_and_queue_filters_have_a_picker(viewer_client):
    client = ClientFactory(name="Acme Dental")
    for url in [reverse("invoices:list"), reverse("opportunities:queue")]:
        page = viewer_client.get(url, {"client": client.pk})
        assert elements(page, "select", name="client") == []
        assert element(page, "input", id="id_client")["value"] == "Acme Dental", url
        assert element(page, "input", name="client", type="hidden")["value"] == str(client.pk)


def test_a_queue_deep_link_by_client_id_fills_the_picker(viewer_client):
    client = ClientFactory(name="Acme Dental")
    page = viewer_client.get(reverse("opportunities:queue"), {"clientId": client.pk})
    assert element(page, "input", name="client", type="hidden")["value"] == str(client.pk)


def test_an_unknown_client_in_the_payment_form_is_refused_with_a_message(finance_client):
    response = finance_client.post(
        reverse("invoices:record_payment"),
        {"client": "999999", "amount": "10.00", "received_on": "2026-12-01", "reference": "X", "method": "card"},
    )
    assert response.status_code == 400
    assert "choose one of the suggestions" in element(response, "div", data_testid="error-client").text
