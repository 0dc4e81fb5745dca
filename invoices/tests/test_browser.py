"""Browser tests (Chromium via Playwright) against a live server."""

import pytest
from django.urls import reverse

from .factories import ago, billed, client_in_class

pytestmark = pytest.mark.browser


def test_finance_records_a_payment_and_watches_statuses_change(keep_reference_data, page, login, finance):
    client = client_in_class(terms=10)
    first = billed(client, "100.00", on=ago(20))  # overdue
    second = billed(client, "50.00", on=ago(2))  # unpaid
    login(page, "fran", "pw-fran")
    page.goto(reverse("invoices:list"))
    assert page.locator(f"tr[data-invoice='{first.number}'] [data-testid=status]").inner_text() == "Overdue"
    assert page.locator(f"tr[data-invoice='{second.number}'] [data-testid=status]").inner_text() == "Unpaid"

    page.click(f"text={first.number}")
    assert page.get_by_test_id("invoice-status").inner_text() == "Overdue"
    page.fill("#id_amount", "120.00")
    page.fill("#id_reference", "BANK-2026-001")
    page.click("button:has-text('Record payment')")
    page.wait_for_selector(".message-success")
    assert "Payment BANK-2026-001 of GBP 120.00 recorded" in page.inner_text(".messages")
    assert page.get_by_test_id("invoice-status").inner_text() == "Paid"
    assert "BANK-2026-001" in page.inner_text("#allocations")

    page.goto(second.get_absolute_url())
    assert page.get_by_test_id("invoice-status").inner_text() == "Partially paid"
    assert page.get_by_test_id("amount-paid").inner_text() == "GBP 20.00"


def test_a_bad_payment_shows_a_clear_error_in_the_browser(keep_reference_data, page, login, finance):
    invoice = billed(client_in_class(), "100.00")
    login(page, "fran", "pw-fran")
    page.goto(invoice.get_absolute_url())
    page.fill("#id_amount", "0")
    page.fill("#id_reference", "X")
    page.click("button:has-text('Record payment')")
    assert "A payment must be more than zero." in page.get_by_test_id("error-amount").inner_text()
    assert "Nothing was recorded" in page.inner_text("main")


def test_an_overdue_invoice_is_shown_overdue_and_counted_on_home(keep_reference_data, page, login, viewer):
    client = client_in_class(terms=10)
    overdue = billed(client, "300.00", on=ago(45))
    billed(client_in_class(), "80.00")
    login(page, "vera", "pw-vera")
    page.goto(reverse("home"))
    assert "300.00" in page.get_by_test_id("overdue-total").inner_text()
    assert page.get_by_test_id("ageing-chart").is_visible()
    page.goto(reverse("invoices:list") + "?overdue=true")
    rows = page.locator("tbody tr[data-invoice]")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-invoice") == overdue.number
    assert rows.first.locator("[data-testid=status]").inner_text() == "Overdue"


def test_a_viewer_cannot_record_payments(keep_reference_data, page, login, viewer):
    invoice = billed(client_in_class(), "100.00")
    login(page, "vera", "pw-vera")
    page.goto(invoice.get_absolute_url())
    assert page.get_by_test_id("invoice-status").inner_text() == "Unpaid"
    assert page.locator("#id_amount").count() == 0
    assert page.locator("text=Resend by e-mail").count() == 0
    response = page.goto(reverse("invoices:record_payment"))
    assert response.status == 403


def test_the_client_picker_filters_invoices_and_fills_the_payment_form(keep_reference_data, page, login, finance):
    from clients.models import Client

    acme, bolt = client_in_class(), client_in_class()
    Client.objects.filter(pk=acme.pk).update(name="Acme Dental")
    Client.objects.filter(pk=bolt.pk).update(name="Bolt Logistics")
    mine = billed(acme, "100.00")
    billed(bolt, "50.00")
    login(page, "fran", "pw-fran")
    page.goto(reverse("invoices:list"))
    assert page.locator("tbody tr[data-invoice]").count() == 2
    page.fill("#id_client", "acm")
    page.get_by_role("option", name="Acme Dental").click()
    page.wait_for_url(f"**client={acme.pk}**")
    page.wait_for_function("document.querySelectorAll('tbody tr[data-invoice]').length === 1")
    assert page.locator("tbody tr[data-invoice]").first.get_attribute("data-invoice") == mine.number
    assert page.locator("#id_client").input_value() == "Acme Dental"

    page.goto(reverse("invoices:record_payment"))
    page.locator("#id_client").press_sequentially("logis")
    page.get_by_role("option", name="Bolt Logistics").wait_for()
    page.locator("#id_client").press("ArrowDown")  # keyboard: into the suggestions, Enter picks
    page.keyboard.press("Enter")
    assert page.locator("#id_client-value").input_value() == str(bolt.pk)
    page.fill("#id_amount", "50.00")
    page.fill("#id_reference", "BANK-PICK-1")
    page.click("button:has-text('Record payment')")
    page.wait_for_selector(".message-success")
    assert "recorded for Bolt Logistics" in page.inner_text(".messages")
