"""Layout in Chromium: at phone width every list shows every cell on screen (cards), filter labels
stay with their inputs, text is readable (contrast), and nothing overlaps on the client page."""

from decimal import Decimal

import pytest
from django.urls import reverse

from clients.models import Client
from invoices.tests.factories import ago, billed, client_in_class, paid
from opportunities.models import Severity
from opportunities.tests.factories import DeviceRuleFactory, OpportunityFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("keep_reference_data"),
]

# Cells (and anything inside them) that reach past the viewport's edges, and the page's own width.
OFF_SCREEN = """() => {
  const width = document.documentElement.clientWidth;
  const outside = [];
  for (const cell of document.querySelectorAll("main td, main th")) {
    if (cell.closest("thead") || getComputedStyle(cell).display === "none") continue;
    for (const part of [cell, ...cell.querySelectorAll("*")]) {
      const box = part.getBoundingClientRect();
      if (box.width && (box.left < -0.5 || box.right > width + 0.5)) {
        outside.push(`${cell.textContent.trim().slice(0, 40)} [${Math.round(box.left)}..${Math.round(box.right)}]`);
        break;
      }
    }
  }
  return {outside, scrollWidth: document.documentElement.scrollWidth, width};
}"""

# Where an element's text is drawn (it may overflow the element's own box).
TEXT_BOX = """(element) => {
  const range = document.createRange();
  range.selectNodeContents(element);
  const box = range.getBoundingClientRect();
  return {x: box.x, y: box.y, width: box.width, height: box.height};
}"""

# WCAG contrast ratio of an element's text against the first opaque background behind it.
CONTRAST = """(element) => {
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const [R, G, B] = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  let back = element;
  while (back && (getComputedStyle(back).backgroundColor === "rgba(0, 0, 0, 0)" || getComputedStyle(back).backgroundColor === "transparent")) {
    back = back.parentElement;
  }
  const bg = back ? rgb(getComputedStyle(back).backgroundColor) : [255, 255, 255];
  const [a, b] = [luminance(rgb(getComputedStyle(element).color)), luminance(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


@pytest.fixture
def books():
    """A client with a long name and e-mail, invoices part paid, and queue items with long text."""
    client = client_in_class(email="accounts.payable.department@northwind-veterinary-clinics.example")
    Client.objects.filter(pk=client.pk).update(name="Northwind Veterinary Clinics and Animal Hospitals Ltd")
    billed(client, "12850.00", on=ago(40))
    billed(client, "1435.50", on=ago(10))
    paid(client, "5000.00", reference="BANK-TRANSFER-2026-11-REFERENCE-0001")
    for n in range(3):
        OpportunityFactory(
            client=client,
            client_name="Northwind Veterinary Clinics and Animal Hospitals Ltd",
            severity=Severity.HIGH,
            monthly_impact=Decimal("12345.67"),
            description=f"Managed workstation licences in use but not billed on agreement AGR-{n}",
            suggested_action="Raise the contract line's quantity to what the RMM reports",
        )
    return Client.objects.get(pk=client.pk)


def assert_every_cell_on_screen(pg, url):
    pg.goto(url)
    found = pg.evaluate(OFF_SCREEN)
    assert found["outside"] == [], f"{url}: {found['outside'][:5]}"
    assert found["scrollWidth"] <= found["width"], url


@pytest.mark.parametrize("where", ["queue", "invoices", "statement", "clients"])
def test_at_phone_width_every_cell_is_on_screen(phone_page, login, finance, books, where):
    login(phone_page, "fran", "pw-fran")
    url = {
        "queue": reverse("opportunities:queue"),
        "invoices": reverse("invoices:list"),
        "statement": books.get_absolute_url(),
        "clients": reverse("clients:list"),
    }[where]
    assert_every_cell_on_screen(phone_page, url)
    if where == "queue":  # columns the narrow table used to lose are there
        assert phone_page.get_by_text("Raise the contract line's quantity").first.is_visible()
        assert phone_page.get_by_text("12,345.67").first.is_visible()
    if where == "statement":
        statement = phone_page.locator("#statement")
        assert statement.get_by_text("5,000.00").first.is_visible()  # paid
        assert statement.locator("td[data-label=Balance]").first.is_visible()


def test_at_phone_width_a_filter_label_sits_on_its_input(phone_page, login, viewer, books):
    login(phone_page, "vera", "pw-vera")
    phone_page.goto(reverse("invoices:list"))
    for field in ["status", "client", "sort"]:
        label = phone_page.locator(f"label[for=id_{field}]").bounding_box()
        control = phone_page.locator(f"#id_{field}").bounding_box()
        assert 0 <= control["y"] - (label["y"] + label["height"]) <= 8, field  # right above it
        assert abs(control["x"] - label["x"]) <= 2, field


@pytest.mark.parametrize("size", [(1280, 900), (390, 844)])
def test_the_billing_email_does_not_run_into_the_service_status(chromium, live_server, finance, books, size):
    from conftest import browser_login

    context = chromium.new_context(base_url=live_server.url, viewport={"width": size[0], "height": size[1]})
    pg = context.new_page()
    try:
        browser_login(pg, "fran", "pw-fran")
        pg.goto(books.get_absolute_url())
        email = pg.get_by_test_id("billing-email").evaluate(TEXT_BOX)  # the text, not its grid cell
        badge = pg.locator("#invoices-panel .figures .badge").bounding_box()
        overlap_x = min(email["x"] + email["width"], badge["x"] + badge["width"]) - max(email["x"], badge["x"])
        overlap_y = min(email["y"] + email["height"], badge["y"] + badge["height"]) - max(email["y"], badge["y"])
        assert overlap_x <= 0 or overlap_y <= 0
    finally:
        context.close()


def test_notifications_and_rule_delete_are_readable(page, login, finance, admin_user, books):
    from opportunities.services.notifications import notify_new_high_severity

    notify_new_high_severity(opportunity_ids=[OpportunityFactory(severity=Severity.HIGH).pk])
    login(page, "fran", "pw-fran")
    page.goto(reverse("opportunities:notifications"))
    title = page.locator(".notifications .linkbutton").first
    assert title.evaluate(CONTRAST) >= 4.5
    when = page.locator(".notifications time").first
    assert when.evaluate(CONTRAST) >= 4.5
    assert when.bounding_box()["height"] < 30  # the date stays on one line
    assert title.evaluate("(e) => getComputedStyle(e).textAlign") in ("left", "start")
    page.get_by_role("button", name="Sign out").click()
    DeviceRuleFactory()
    login(page, admin_user.username, "pw-" + admin_user.username)
    page.goto(reverse("opportunities:rules"))
    assert page.get_by_role("button", name="Delete").first.evaluate(CONTRAST) >= 4.5
