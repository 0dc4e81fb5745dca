"""Browser tests: Playwright driving Debian's Chromium against the live server."""

from decimal import Decimal

import pytest

from clients.tests.factories import ClientFactory, ContractFactory, ContractLineFactory, ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dunmore(db):
    client = ClientFactory(name="Dunmore Architects")
    contract = ContractFactory(client=client, number="AGR-2004", name="Managed services agreement")
    ContractLineFactory(
        contract=contract, product=ProductFactory(name="Managed workstation"), quantity=12, unit_price=Decimal("45.00")
    )
    ClientFactory(name="Eastgate Veterinary Clinic")
    return client


@pytest.mark.parametrize("who", ["viewer", "finance", "admin_user"])
def test_each_role_signs_in_and_reaches_a_client(page, login, request, dunmore, who):
    user = request.getfixturevalue(who)
    login(page, user.username, "pw-" + user.username)
    assert page.locator("h1").inner_text() == "Home"
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Clients").click()
    page.get_by_role("link", name="Dunmore Architects").click()
    assert page.locator("h1").inner_text() == "Dunmore Architects"
    assert page.get_by_test_id("mrr").inner_text().endswith("540.00")
    assert page.get_by_text("Managed workstation").is_visible()


def test_a_wrong_password_is_refused_with_a_message(page, viewer):
    page.goto("/login/")
    page.fill("#id_username", viewer.username)
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").is_visible()
    assert "/login/" in page.url


def test_admin_only_links_are_absent_for_a_viewer_and_present_for_an_admin(page, login, dunmore, viewer, admin_user):
    login(page, viewer.username, "pw-" + viewer.username)
    page.goto(f"/clients/{dunmore.pk}/")
    assert page.locator("[data-admin-only]").count() == 0
    page.get_by_role("button", name="Sign out").click()
    login(page, admin_user.username, "pw-" + admin_user.username)
    page.goto(f"/clients/{dunmore.pk}/")
    assert page.get_by_role("link", name="Django admin").is_visible()
    assert page.get_by_role("link", name="Edit in admin").is_visible()


def test_searching_clients_swaps_the_table_and_keeps_the_url(page, login, dunmore, finance):
    login(page, finance.username, "pw-" + finance.username)
    page.goto("/clients/")
    page.fill("#id_q", "eastgate")
    page.wait_for_url("**/clients/?*q=eastgate*")
    assert page.locator("#client-table").get_by_text("Eastgate Veterinary Clinic").is_visible()
    assert page.locator("#client-table").get_by_text("Dunmore Architects").count() == 0
    page.reload()  # the same URL loaded fresh shows the same list
    assert page.locator("#id_q").input_value() == "eastgate"
    assert page.locator("#client-table").get_by_text("Dunmore Architects").count() == 0


def test_the_console_fits_a_phone(phone_page, login, dunmore, finance):
    page = phone_page
    login(page, finance.username, "pw-" + finance.username)
    page.goto(f"/clients/{dunmore.pk}/")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1
    assert not page.get_by_role("link", name="Invoices").is_visible()  # menu folded away
    page.locator(".nav-toggle-label").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Clients").click()
    assert page.locator("h1").inner_text() == "Clients"
