"""Browser tests (Chromium via Playwright): downloading an invoice's PDF, resending it by e-mail."""

import io

import pytest
from django.core import mail
from pypdf import PdfReader

from invoices.models import InvoiceMessage, MessageKind

from .factories import billed, client_in_class

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_viewer_downloads_the_invoice_pdf(keep_reference_data, page, login, viewer):
    invoice = billed(client_in_class(), "1234.50")
    login(page, "vera", "pw-vera")
    page.goto(invoice.get_absolute_url())
    with page.expect_download() as info:
        page.get_by_test_id("download-pdf").click()
    download = info.value
    assert download.suggested_filename == f"{invoice.number}.pdf"
    reader = PdfReader(io.BytesIO(open(download.path(), "rb").read()))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert invoice.number in text and "GBP 1,234.50" in text and "Managed services" in text
    assert page.get_by_test_id("resend-email").count() == 0  # a Viewer reads; Finance resends


def test_finance_resends_after_confirming_and_sees_it_sent(keep_reference_data, page, login, finance):
    invoice = billed(client_in_class(), "80.00")
    login(page, "fran", "pw-fran")
    page.goto(invoice.get_absolute_url())
    questions = []

    def answer(dialog):
        questions.append(dialog.message)
        dialog.dismiss() if len(questions) == 1 else dialog.accept()

    page.on("dialog", answer)
    page.get_by_test_id("resend-email").click()  # dismissed: nothing sent
    assert questions == [f"Send invoice {invoice.number} to the client's billing e-mail again now?"]
    assert not InvoiceMessage.objects.exists()

    page.get_by_test_id("resend-email").click()
    page.wait_for_selector(".message-success")
    assert f"Invoice {invoice.number} sent to ap@example.com." in page.inner_text(".messages")
    row = page.locator("#invoice-messages tbody tr").first
    assert "Invoice resent" in row.inner_text() and "ap@example.com" in row.inner_text()
    assert row.get_by_test_id("message-status").inner_text() == "Sent"
    assert InvoiceMessage.objects.get().kind == MessageKind.RESEND  # one: the dismissed question sent nothing
    assert len(mail.outbox) == 1 and mail.outbox[0].attachments[0][0] == f"{invoice.number}.pdf"
