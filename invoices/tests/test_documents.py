"""Invoice PDFs: what the document says (read back with pypdf), stored once, downloaded by readers."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse
from pypdf import PdfReader

from clients.models import Client, Product
from clients.tests.factories import ContractFactory, ContractLineFactory, ProductFactory
from invoices import services
from invoices.models import CustomerClass, DraftInvoice, Invoice, InvoiceDocument, InvoiceLine
from invoices.services.numbering import take_numbers

from .factories import billed, client_in_class, paid

pytestmark = pytest.mark.django_db
D = Decimal
JAN, FEB = dt.date(2027, 1, 1), dt.date(2027, 2, 1)
NON_LATIN = "Überwachung – café ✓"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ORGANISATION_NAME = "Northwind IT Ltd"
    settings.ORGANISATION_ADDRESS = "12 Harbour Road\nPortsmouth PO1 2AB"
    settings.ORGANISATION_PAYMENT_INSTRUCTIONS = "Bank transfer · Sort code 11-22-33 · Account 44556677"


def text_of(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def issued(client, lines, *, on=dt.date(2027, 2, 1), **kwargs) -> Invoice:
    """Issue an invoice of these unsaved lines, as a billing run does (numbered from the sequence)."""
    with transaction.atomic():
        locked = services.lock_client(client)
        [(number, position)] = take_numbers(1, issued_on=on)
        return services.issue_built(locked, issued_on=on, lines=lines, number=number, sequence=position, **kwargs)


def line(description, quantity, price, **kwargs) -> InvoiceLine:
    quantity, price = D(str(quantity)), D(price)
    return InvoiceLine(
        description=description,
        quantity=quantity,
        unit_price=price,
        amount=kwargs.pop("amount", None) or (quantity * price).quantize(D("0.01")),
        **kwargs,
    )


def test_the_pdf_holds_the_organisation_the_client_the_dates_the_lines_and_the_amounts():
    client = client_in_class(terms=14, email="accounts@acme.example")
    Client.objects.filter(pk=client.pk).update(name="Acme Dental")
    invoice = issued(
        client,
        [
            line("Managed workstation — Feb 2027", 82, "40.50", period=FEB, days=28, days_in_month=28),
            line(
                "Managed workstation, 10 × 40.50, 11–31 Jan 2027 no longer in force: 21/31",
                -10,
                "27.44",
                period=JAN,
                days=21,
                days_in_month=31,
                adjustment=True,
            ),
        ],
        period_start=FEB,
        period_end=dt.date(2027, 2, 28),
    )
    text = text_of(services.invoice_pdf(invoice))
    for expected in (
        "Northwind IT Ltd",
        "12 Harbour Road",
        "Portsmouth PO1 2AB",
        "Acme Dental",
        "accounts@acme.example",
        invoice.number,
        "1 Feb 2027",  # issued
        "15 Feb 2027",  # due, 14 days' terms
        "Managed workstation — Feb 2027",
        "Managed workstation, 10 × 40.50, 11–31 Jan",
        "Jan 2027",
        "21/31 days",
        "adjustment",
        "3,321.00",  # 82 × 40.50
        "-274.40",
        "GBP 3,046.60",  # the total
        "Carried in from earlier invoices",
        "Amount due",
        "Please pay GBP 3,046.60 by 15 Feb 2027.",
        "Sort code 11-22-33",
    ):
        assert expected in text, expected


def placed(content: bytes) -> dict[str, tuple[int, int]]:
    """Each piece of text on the first page and where it starts (x, y in points from bottom left)."""
    found = {}

    def visit(text, cm, tm, font, size):
        if text.strip():
            found.setdefault(text.strip(), (round(tm[4]), round(tm[5])))

    PdfReader(io.BytesIO(content)).pages[0].extract_text(visitor_text=visit)
    return found


def test_the_address_and_the_billing_email_sit_on_the_left_under_their_names():
    client = client_in_class(email="accounts@acme.example")
    Client.objects.filter(pk=client.pk).update(name="Acme Dental")
    at = placed(services.invoice_pdf(billed(client, "10.00")))
    left = at["Northwind IT Ltd"][0]
    assert at["12 Harbour Road"][0] == at["Portsmouth PO1 2AB"][0] == left  # not under the invoice's facts
    assert at["Acme Dental"][0] == at["accounts@acme.example"][0] == left
    assert at["12 Harbour Road"][1] < at["Northwind IT Ltd"][1]
    assert at["accounts@acme.example"][1] < at["Acme Dental"][1]
    assert at["Number"][0] > left + 250  # the facts' column, on the right


def test_every_character_of_a_description_prints():
    invoice = issued(
        client_in_class(),
        [line(NON_LATIN, 1, "10.00"), line("Мониторинг серверов", 2, "5.00"), line("Υποστήριξη €", 1, "1.00")],
    )
    text = text_of(services.invoice_pdf(invoice))
    assert NON_LATIN in text
    assert "Мониторинг серверов" in text and "Υποστήριξη €" in text


def test_a_long_invoice_runs_onto_more_pages_with_every_line_and_the_total():
    lines = [line(f"Backup seat {n:03d}", 1, "2.00") for n in range(90)]
    invoice = issued(client_in_class(), lines)
    reader = PdfReader(io.BytesIO(services.invoice_pdf(invoice)))
    assert len(reader.pages) >= 2
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert all(f"Backup seat {n:03d}" in text for n in range(90))
    assert "GBP 180.00" in text
    assert f"{invoice.number} · page 2 of {len(reader.pages)}" in text
    assert reader.pages[1].extract_text().count("Description") == 1  # the table's heading again


def test_a_credit_note_and_an_invoice_below_the_threshold_say_there_is_nothing_to_pay():
    credit = billed(client_in_class(), "-25.00")
    text = text_of(services.invoice_pdf(credit))
    assert "Credit note" in text and "Nothing to pay: this credit of GBP 25.00" in text
    assert "Sort code" not in text  # no payment instructions on a document that asks for nothing
    small = billed(client_in_class(threshold="50.00"), "20.00")
    assert "Nothing to pay now: the amount due of GBP 20.00 is below your collection threshold" in text_of(
        services.invoice_pdf(small)
    )


def test_the_pdf_is_stored_once_and_stays_as_issued():
    invoice = billed(client_in_class(), "100.00")
    first = services.invoice_pdf(invoice)
    paid(invoice.client, "100.00")
    Client.objects.filter(pk=invoice.client_id).update(name="Renamed Ltd")
    assert services.invoice_pdf(invoice) == first
    document = InvoiceDocument.objects.get()
    assert document.invoice == invoice and document.size == len(first)
    assert document.file.name.endswith(f"{invoice.number}.pdf")
    assert services.invoice_document(invoice).pk == document.pk
    assert InvoiceDocument.objects.count() == 1


def test_a_lost_file_is_rendered_again_from_the_invoice():
    invoice = billed(client_in_class(), "100.00")
    services.invoice_pdf(invoice)
    document = InvoiceDocument.objects.get()
    document.file.storage.delete(document.file.name)
    assert invoice.number in text_of(services.invoice_pdf(invoice))
    assert InvoiceDocument.objects.count() == 1


def test_an_issued_billing_run_invoice_prints_its_months(settings):
    settings.BILLING_GO_LIVE = JAN
    CustomerClass.objects.create(name="Standard", payment_terms_days=14, is_default=True)
    product = Product.objects.filter(sku="MS-WS").first() or ProductFactory(name="Managed workstation", sku="MS-WS")
    contract = ContractFactory(start_date=dt.date(2026, 6, 1))
    ContractLineFactory(contract=contract, product=product, quantity=3, unit_price=D("40.50"))
    run = services.start_billing_run(period_start=JAN)
    run = services.issue_billing_run(run, issued_on=JAN)
    invoice = Invoice.objects.get(billing_run=run)
    text = text_of(services.invoice_pdf(invoice))
    assert invoice.number in text and "Jan 2027" in text and "121.50" in text


# --- the download ----------------------------------------------------------------------------


def test_a_viewer_downloads_the_pdf(viewer_client):
    invoice = billed(client_in_class(), "100.00")
    response = viewer_client.get(reverse("invoices:pdf", args=[invoice.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert invoice.number in text_of(response.content)
    page = viewer_client.get(invoice.get_absolute_url()).content.decode()
    assert f'href="{reverse("invoices:pdf", args=[invoice.pk])}"' in page and "Download PDF" in page


def test_the_pdf_needs_a_role_and_a_real_invoice(client, django_user_model):
    invoice = billed(client_in_class(), "100.00")
    url = reverse("invoices:pdf", args=[invoice.pk])
    assert client.get(url).status_code == 302  # to the sign-in page
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get(url).status_code == 403
    assert not InvoiceDocument.objects.exists()


def test_an_unknown_invoice_is_not_found(viewer_client):
    assert viewer_client.get(reverse("invoices:pdf", args=[999999])).status_code == 404


def test_a_draft_has_no_pdf_until_it_is_issued(viewer_client, settings):
    settings.BILLING_GO_LIVE = JAN
    CustomerClass.objects.create(name="Standard", payment_terms_days=14, is_default=True)
    ContractLineFactory(contract=ContractFactory(start_date=dt.date(2026, 6, 1)), quantity=2, unit_price=D("9.00"))
    run = services.start_billing_run(period_start=JAN)
    draft = DraftInvoice.objects.get(run=run)
    response = viewer_client.get(reverse("invoices:draft_pdf", args=[draft.pk]))
    assert response.status_code == 404
    assert "A draft invoice has no PDF" in response.content.decode()
    assert not InvoiceDocument.objects.exists()
    services.issue_billing_run(run, issued_on=JAN)
    draft.refresh_from_db()
    response = viewer_client.get(reverse("invoices:draft_pdf", args=[draft.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("invoices:pdf", args=[draft.invoice_id])
