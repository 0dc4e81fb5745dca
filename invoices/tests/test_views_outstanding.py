"""What is owed: the list's Outstanding column (sort, filter) and the invoice page's figures."""

import pytest
from django.urls import reverse

from billingone.tests.html import element, elements

from .factories import ago, billed, client_in_class, paid

pytestmark = pytest.mark.django_db

LIST = reverse("invoices:list")


@pytest.fixture
def three():
    """A paid, a part-paid and an unpaid invoice, each its own client (payments pay oldest first)."""
    settled, part, unpaid = (client_in_class() for _ in range(3))
    a = billed(settled, "100.00", on=ago(20))
    paid(settled, "100.00")
    b = billed(part, "300.00", on=ago(10))
    paid(part, "120.00")
    c = billed(unpaid, "50.00", on=ago(5))
    return a, b, c


def outstanding_by_number(response) -> dict:
    return {
        row["data-invoice"]: element(row, "td", data_testid="outstanding").text
        for row in elements(response, "tr", data_invoice=True)
    }


def test_the_list_shows_what_is_still_to_pay_not_the_total(viewer_client, three):
    a, b, c = three
    response = viewer_client.get(LIST)
    assert element(response, "th", text="Outstanding")
    assert outstanding_by_number(response) == {a.number: "0.00", b.number: "180.00", c.number: "50.00"}


def test_the_list_sorts_by_outstanding(viewer_client, three):
    a, b, c = three
    most = list(outstanding_by_number(viewer_client.get(LIST + "?sort=-outstanding")))
    assert most == [b.number, c.number, a.number]
    least = list(outstanding_by_number(viewer_client.get(LIST + "?sort=outstanding")))
    assert least == [a.number, c.number, b.number]


def test_the_list_filters_by_outstanding(viewer_client, three):
    a, b, c = three
    assert set(outstanding_by_number(viewer_client.get(LIST + "?balance=owing"))) == {b.number, c.number}
    assert set(outstanding_by_number(viewer_client.get(LIST + "?balance=settled"))) == {a.number}
    assert set(outstanding_by_number(viewer_client.get(LIST + "?outstanding_min=100"))) == {b.number}


@pytest.mark.parametrize("query", ["outstanding_min=abc", "outstanding_min=-5", "outstanding_min=1e9", "balance=x"])
def test_a_bad_outstanding_filter_is_refused_with_a_message(viewer_client, three, query):
    response = viewer_client.get(f"{LIST}?{query}")
    assert response.status_code == 400
    assert "Those filters are not valid" in response.content.decode()


def test_the_invoice_page_reads_total_carried_due_paid_outstanding(viewer_client, three):
    _a, b, _c = three
    figures = element(viewer_client.get(b.get_absolute_url()), "dl", data_testid="amounts")
    assert [dt.text for dt in elements(figures, "dt")] == [
        "Total",
        "Carried in",
        "Amount due",
        "Paid",
        "Outstanding",
    ]
    assert [dd.text for dd in elements(figures, "dd")] == [
        "GBP 300.00",
        "GBP 0.00",
        "GBP 300.00",
        "GBP 120.00",
        "GBP 180.00",
    ]


def test_a_no_payment_required_invoice_says_why(viewer_client):
    client = client_in_class(threshold="25.00")
    small = billed(client, "10.00", on=ago(40))
    page = viewer_client.get(small.get_absolute_url())
    assert "will be carried into the client's next invoice" in element(page, "p", data_testid="status-why").text
    big = billed(client, "90.00", on=ago(10))
    paid(client, "100.00")
    small.refresh_from_db()
    assert small.get_status_display() == "No payment required"
    page = viewer_client.get(small.get_absolute_url())
    why = element(page, "p", data_testid="status-why").text
    assert f"carried into {big.number}, whose payment settled it" in why
    assert element(page, "dd", data_testid="outstanding").text == "GBP 0.00"


def test_a_credit_with_nothing_applied_says_so_once(viewer_client):
    client = client_in_class()
    credit = billed(client, "-40.00")
    page = viewer_client.get(credit.get_absolute_url()).content.decode()
    assert page.count("Nothing applied yet.") == 1
