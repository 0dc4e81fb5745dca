"""Console pages: per-role access, filters, the HTMX partial, query counts, payments, resend."""

import pytest
from django.core import mail
from django.urls import reverse

from billingone.tests.html import element
from clients.models import Client
from invoices.models import Invoice, Payment

from .factories import ClientFactory, D, ago, billed, client_in_class

pytestmark = pytest.mark.django_db

LIST = reverse("invoices:list")
NEW_PAYMENT = reverse("invoices:record_payment")


@pytest.fixture
def invoice():
    client = client_in_class(terms=10)
    return billed(client, "120.00", on=ago(15))  # overdue


def post_payment(http, for_client, **overrides):
    data = {
        "client": for_client.pk,
        "amount": "120.00",
        "received_on": ago(0).isoformat(),
        "reference": "BANK-77",
        "method": "bank_transfer",
        **overrides,
    }
    return http.post(NEW_PAYMENT, data)


# --- access ----------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_login(client, invoice):
    for url in [LIST, invoice.get_absolute_url(), NEW_PAYMENT]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert client.post(reverse("invoices:resend", args=[invoice.pk])).status_code == 302


def test_a_viewer_reads_but_cannot_record_or_resend(viewer_client, invoice):
    assert viewer_client.get(LIST).status_code == 200
    page = viewer_client.get(invoice.get_absolute_url())
    assert page.status_code == 200
    assert b"Record payment" not in page.content and b"Resend" not in page.content
    assert viewer_client.get(NEW_PAYMENT).status_code == 403
    assert post_payment(viewer_client, invoice.client).status_code == 403
    assert viewer_client.post(reverse("invoices:resend", args=[invoice.pk])).status_code == 403
    assert Payment.objects.count() == 0 and mail.outbox == []


def test_finance_records_a_payment_and_the_invoice_becomes_paid(finance_client, invoice):
    response = post_payment(finance_client, invoice.client, next=invoice.get_absolute_url())
    assert response.status_code == 302 and response.url == invoice.get_absolute_url()
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    page = finance_client.get(invoice.get_absolute_url())
    assert b"Payment BANK-77 of GBP 120.00 recorded" in page.content


def test_after_an_htmx_payment_the_answer_is_hx_location(finance_client, invoice):
    response = finance_client.post(
        NEW_PAYMENT,
        {"client": invoice.client.pk, "amount": "1", "received_on": ago(0), "reference": "H", "method": "card"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 204 and response["HX-Location"].endswith(f"/clients/{invoice.client.pk}/")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"amount": "0"}, b"A payment must be more than zero."),
        ({"amount": "-3"}, b"A payment must be more than zero."),
        ({"client": "999999"}, b"Unknown client"),
        ({"received_on": ago(-1).isoformat()}, b"cannot be received in the future"),
    ],
)
def test_bad_payments_get_a_clear_message_and_change_nothing(finance_client, invoice, overrides, message):
    Payment.objects.create(client=invoice.client, amount=D("1.00"), received_on=ago(0), reference="DUP")
    response = post_payment(finance_client, invoice.client, **overrides)
    assert response.status_code == 400
    assert message in response.content
    assert Payment.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0 and invoice.status == "overdue"


@pytest.mark.parametrize("amount", ["1e10", "١٢٠", "12.345", "NaN", "12,34,5", "Infinity"])
def test_only_plain_amounts_are_read(finance_client, invoice, amount):
    response = post_payment(finance_client, invoice.client, amount=amount)
    assert response.status_code == 400
    assert "Enter an amount such as 125.50" in response.content.decode()
    assert not Payment.objects.exists()


@pytest.mark.parametrize("received_on", ["0001-01-01", "2000-01-01"])
def test_a_payment_dated_years_back_is_refused(finance_client, invoice, received_on):
    response = post_payment(finance_client, invoice.client, received_on=received_on)
    assert response.status_code == 400 and "(five years back)" in response.content.decode()
    assert not Payment.objects.exists()


def test_a_payment_dated_over_ninety_days_back_asks_first_then_is_recorded(finance_client, invoice):
    back = ago(120).isoformat()
    response = post_payment(finance_client, invoice.client, received_on=back)
    page = response.content.decode()
    assert response.status_code == 400 and "dated 120 days ago" in page
    assert element(page, "input", type="checkbox", name="backdated_confirmed")
    assert "Yes, it was received on that date" in page
    assert not Payment.objects.exists()
    response = post_payment(finance_client, invoice.client, received_on=back, backdated_confirmed="on")
    assert response.status_code == 302
    assert Payment.objects.get().received_on.isoformat() == back


def test_the_form_does_not_ask_about_the_date_before_it_is_far_back(finance_client, invoice):
    page = finance_client.get(NEW_PAYMENT).content.decode()
    assert element(page, "input", type="hidden", name="backdated_confirmed")
    assert "Yes, it was received" not in page


def test_a_payment_entered_twice_says_already_recorded_and_links_to_it(finance_client, invoice):
    first = Payment.objects.create(client=invoice.client, amount=D("1.00"), received_on=ago(0), reference="DUP")
    response = post_payment(finance_client, invoice.client, reference="DUP")
    assert response.status_code == 302
    assert response["Location"].endswith(f"/clients/{invoice.client.pk}/#payment-{first.pk}")
    page = finance_client.get(response["Location"]).content.decode()
    assert "Already recorded: payment DUP of GBP 1.00" in page and "nothing new was recorded" in page
    assert f'href="/clients/{invoice.client.pk}/#payment-{first.pk}"' in page
    assert f'id="payment-{first.pk}"' in page
    assert Payment.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0


def test_writes_need_a_csrf_token(finance, invoice):
    from django.test import Client as HttpClient

    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(finance)
    assert post_payment(http, invoice.client).status_code == 403
    assert http.post(reverse("invoices:resend", args=[invoice.pk])).status_code == 403
    assert Payment.objects.count() == 0


def test_resend_is_post_only_and_emails_the_billing_contact(finance_client, invoice):
    url = reverse("invoices:resend", args=[invoice.pk])
    assert finance_client.get(url).status_code == 405
    response = finance_client.post(url, follow=True)
    assert b"sent to ap@example.com" in response.content
    assert len(mail.outbox) == 1 and invoice.number in mail.outbox[0].body


def test_resend_without_a_billing_email_says_so(finance_client):
    invoice = billed(client_in_class(email=""), "10.00")
    response = finance_client.post(reverse("invoices:resend", args=[invoice.pk]), follow=True)
    assert b"no billing e-mail" in response.content and mail.outbox == []


# --- the search table ------------------------------------------------------------------------


def test_filters_and_search(viewer_client, invoice):
    other = billed(client_in_class(), "10.00")
    assert invoice.number.encode() in viewer_client.get(LIST, {"overdue": "true"}).content
    assert other.number.encode() not in viewer_client.get(LIST, {"overdue": "true"}).content
    assert other.number.encode() in viewer_client.get(LIST, {"status": "unpaid"}).content
    assert invoice.number.encode() not in viewer_client.get(LIST, {"client": other.client_id}).content
    assert invoice.number.encode() in viewer_client.get(LIST, {"q": invoice.client.name}).content
    found = viewer_client.get(LIST, {"issued_after": ago(20).isoformat(), "issued_before": ago(10).isoformat()})
    assert invoice.number.encode() in found.content and other.number.encode() not in found.content


def test_a_bad_filter_value_is_a_400_with_a_message(viewer_client):
    response = viewer_client.get(LIST, {"status": "bogus", "issued_after": "yesterday"})
    assert response.status_code == 400 and b"not valid" in response.content


def test_htmx_gets_only_the_table(viewer_client, invoice):
    response = viewer_client.get(LIST, headers={"HX-Request": "true"})
    assert response.content.lstrip().startswith(b'<div id="invoice-table">')
    assert "HX-Request" in response["Vary"]


def test_the_list_runs_a_fixed_number_of_queries(viewer_client, django_assert_num_queries):
    for _ in range(3):
        client = ClientFactory()
        for n in range(4):
            billed(client, "10.00", on=ago(n))
    viewer_client.get(LIST)  # warm the session
    # session, user, user permissions, group permissions, count, one page of invoices with their clients
    with django_assert_num_queries(6):
        viewer_client.get(LIST, headers={"HX-Request": "true"})
    for _ in range(3):
        billed(ClientFactory(), "10.00")
    with django_assert_num_queries(6):
        viewer_client.get(LIST, headers={"HX-Request": "true"})
    # The full page adds the header bell's unread count; the client filter is a picker, which
    # lists no clients until asked (and then 20 at most).
    with django_assert_num_queries(7):
        viewer_client.get(LIST)


def test_the_invoice_page_shows_status_lines_allocations_and_history(finance_client, invoice):
    post_payment(finance_client, invoice.client, amount="20.00")
    page = finance_client.get(invoice.get_absolute_url()).content.decode()
    assert 'data-testid="invoice-status">Overdue' in page
    assert "Managed services" in page and "Payment BANK-77" in page
    assert 'Overdue <span class="muted">(issued, as of' in page  # the history's first entry


def test_the_invoice_page_runs_a_fixed_number_of_queries(finance_client, invoice, django_assert_num_queries):
    post_payment(finance_client, invoice.client, amount="20.00")
    finance_client.get(invoice.get_absolute_url())  # warm the session
    # session, user, user permissions, group permissions; the invoice with its client and settling
    # invoice; its lines, allocations (with payments and credits), status history; the credit it
    # gave, its collection actions, the invoices it absorbed, its e-mails; the bell's count; the payment
    # form's clients.
    with django_assert_num_queries(14):
        finance_client.get(invoice.get_absolute_url())
    for n in range(3):
        post_payment(finance_client, invoice.client, amount="1.00", reference=f"MORE-{n}")
    with django_assert_num_queries(14):  # more payments, the same queries
        finance_client.get(invoice.get_absolute_url())


def test_the_client_page_shows_balance_credit_and_statement(viewer_client):
    client = client_in_class()
    billed(client, "100.00", on=ago(3))
    Client.objects.get(pk=client.pk)
    from invoices import services

    services.record_payment(client, amount=D("130.00"), received_on=ago(0), reference="R1")
    page = viewer_client.get(client.get_absolute_url()).content.decode()
    assert 'data-testid="credit">GBP 30.00' in page
    assert 'data-testid="balance">GBP -30.00' in page
    assert "Payment R1" in page


def test_the_client_page_runs_a_fixed_number_of_queries(viewer_client, django_assert_num_queries):
    client = client_in_class()
    billed(client, "100.00", on=ago(3))
    viewer_client.get(client.get_absolute_url())
    # clients' own page: session, user, 2 × permissions, client, contracts, lines, status changes,
    # contract history;
    # the invoices panel: invoices, payments (statement), profile, 2 × credit, ageing, collection actions;
    # the missed-billing panel: its open count and impact; the header bell's unread count.
    with django_assert_num_queries(17):
        viewer_client.get(client.get_absolute_url())
    for n in range(3):
        billed(client, "10.00", on=ago(n))
    with django_assert_num_queries(17):
        viewer_client.get(client.get_absolute_url())


def test_home_shows_overdue_total_and_ageing_chart(viewer_client, invoice):
    page = viewer_client.get(reverse("home")).content.decode()
    assert 'data-testid="overdue-total">GBP 120.00' in page
    assert 'data-testid="ageing-chart"' in page
    for label in ["Current", "1–30", "31–60", "61–90", "90+"]:
        assert label in page


def test_invoice_numbers_are_unique_and_readable(invoice):
    assert invoice.number.startswith("INV-") and Invoice.objects.filter(number=invoice.number).count() == 1


def test_an_admin_may_record_payments_too(admin_client_, invoice):
    assert admin_client_.get(NEW_PAYMENT).status_code == 200
    assert post_payment(admin_client_, invoice.client).status_code == 302
    assert Payment.objects.count() == 1
