"""The queue in Chromium: tabs, search chips, deep links, snooze / ignore / apply, bulk apply, read-only detail."""

import datetime as dt
from decimal import Decimal

import pytest

from clients.dates import display_date, org_today
from opportunities.models import Opportunity, OpportunityState, Severity

from .factories import (
    ClientFactory,
    OpportunityFactory,
    ProductFactory,
    add_line_opportunity,
    billed_line,
    raise_quantity_opportunity,
    segment_on,
    this_month,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("keep_reference_data"),  # schedules and roles survive the flushes
]


@pytest.fixture
def items():
    acme = ClientFactory(name="Acme Dental")
    bolt = ClientFactory(name="Bolt Logistics")
    product = ProductFactory(name="Managed workstation")
    return {
        "acme": OpportunityFactory(
            client=acme, severity=Severity.HIGH, monthly_impact=Decimal("900.00"), description="Servers not billed"
        ),
        "bolt": OpportunityFactory(
            client=bolt, severity=Severity.LOW, monthly_impact=Decimal("20.00"), description="Backup seats short"
        ),
        "ready1": raise_quantity_opportunity(line=billed_line(product=product)),
        "ready2": raise_quantity_opportunity(line=billed_line(product=product)),
        "other": add_line_opportunity(product=ProductFactory(name="Backup seat"), monthly_impact=Decimal("10.00")),
    }


def test_tabs_switch_with_htmx_and_push_the_url(page, login, finance, items):
    login(page, "fran", "pw-fran")
    page.goto("/missed-billing/")
    assert page.locator("#queue-list").get_by_text("Servers not billed").is_visible()
    page.click("#queue-tabs a[data-tab=ready]")
    page.wait_for_url("**/missed-billing/?tab=ready")
    page.wait_for_selector("#queue-tabs a[data-tab=ready][aria-current=page]")
    assert page.locator("#queue-list").get_by_text("Servers not billed").count() == 0
    assert page.locator("#queue-list tbody tr").count() == 3
    assert page.get_by_test_id("summary-count").inner_text() == "3 items"
    page.reload()  # the same URL, fresh, renders the same tab
    assert page.locator("#queue-tabs a[data-tab=ready]").get_attribute("aria-current") == "page"


def test_search_and_chips_stay_in_sync(page, login, viewer, items):
    login(page, "vera", "pw-vera")
    page.goto("/missed-billing/")
    page.fill("#id_q", "acme")
    page.wait_for_url("**q=acme**")
    page.wait_for_selector("[data-chip=q]")
    assert page.locator("#queue-list tbody tr").count() == 1
    page.select_option("#id_severity", "high")
    page.wait_for_selector("[data-chip=severity]")
    assert "severity=high" in page.url
    page.click("[data-chip=q]")
    page.wait_for_function("() => !location.search.includes('q=acme')")
    page.wait_for_function("() => document.querySelector('#id_q').value === ''")
    assert page.locator("[data-chip=q]").count() == 0
    assert page.locator("[data-chip=severity]").is_visible()
    assert page.locator("#id_severity").input_value() == "high"


def test_deep_link_scoped_to_a_client(page, login, viewer, items):
    login(page, "vera", "pw-vera")
    page.goto(f"/missed-billing/?clientId={items['bolt'].client_id}")
    assert page.locator("[data-chip=client]").inner_text().startswith("Client: Bolt Logistics")
    assert page.locator("#queue-list tbody tr").count() == 1
    page.goto("/missed-billing/?client=nope")
    assert page.get_by_text("The client id must be a whole number").is_visible()


def test_snooze_with_a_date(page, login, finance, items):
    login(page, "fran", "pw-fran")
    opp = items["acme"]
    page.goto(f"/missed-billing/{opp.pk}/")
    until = org_today() + dt.timedelta(days=12)
    page.fill("#id_until", until.isoformat())
    page.get_by_role("button", name="Snooze").click()
    # the flash message (the page's own notice says the same)
    page.get_by_role("status").get_by_text(f"Snoozed until {display_date(until)}.").wait_for()
    assert page.get_by_test_id("state").inner_text() == "Snoozed"
    assert "Snoozed" in page.get_by_test_id("history").inner_text()


def test_ignore_with_a_reason(page, login, finance, items):
    login(page, "fran", "pw-fran")
    opp = items["bolt"]
    page.goto(f"/missed-billing/{opp.pk}/")
    page.fill("#id_reason", "Client is billed through the parent company")
    page.get_by_role("button", name="Ignore").click()
    page.get_by_text("Ignored.").first.wait_for()
    assert "Client is billed through the parent company" in page.get_by_test_id("history").inner_text()
    assert Opportunity.objects.get(pk=opp.pk).state == OpportunityState.IGNORED


def test_apply_with_confirm(page, login, finance, items):
    login(page, "fran", "pw-fran")
    opp = items["ready1"]
    page.goto(f"/missed-billing/{opp.pk}/")
    page.get_by_test_id("apply").click()
    page.get_by_text("10 → 15").first.wait_for()
    field = page.get_by_test_id("effective-on")
    assert field.input_value() == this_month().isoformat()  # nothing billed yet: this month
    field.fill("2025-03-10")  # set back: the gap was there long before detection saw it
    page.get_by_test_id("confirm-apply").click()
    page.get_by_text("Applied: the contract was updated. It changes from 10 Mar 2025.").first.wait_for()
    assert page.get_by_test_id("state").inner_text() == "Applied"
    assert segment_on(opp.plan_line, dt.date(2025, 3, 10)).quantity == 15
    assert segment_on(opp.plan_line, dt.date(2025, 3, 9)).quantity == 10
    page.get_by_role("link", name=opp.client_name).last.click()  # the client page, with its contracts
    history = page.get_by_test_id("contract-history")
    history.wait_for()
    assert "Set 15 × " in history.inner_text() and "from 10 Mar 2025 (was 10 × " in history.inner_text()
    assert "by fran" in history.inner_text()
    ended = page.get_by_test_id("line-not-in-force").first
    assert "Ended" in ended.inner_text() and "1 Jan 2024 to 9 Mar 2025" in ended.inner_text()
    assert "from 10 Mar 2025" in page.get_by_test_id("line-in-force").first.inner_text()


def test_apply_refuses_a_date_before_the_line_starts_and_says_so(page, login, finance, items):
    login(page, "fran", "pw-fran")
    opp = items["ready2"]
    page.goto(f"/missed-billing/{opp.pk}/apply/")
    page.get_by_test_id("effective-on").fill("2023-06-01")
    page.get_by_test_id("confirm-apply").click()
    error = page.get_by_test_id("error")
    error.wait_for()
    assert "1 Jun 2023 is before the line starts (1 Jan 2024)" in error.inner_text()
    assert page.get_by_test_id("state").inner_text() == "Open"


def test_bulk_apply_with_live_progress_and_a_disabled_incompatible_item(page, login, finance, items, celery_eager):
    login(page, "fran", "pw-fran")
    page.goto("/missed-billing/?tab=ready")
    page.get_by_test_id("select-mode").click()
    page.wait_for_url("**select=1**")
    page.check(f"#sel-{items['ready1'].pk}")
    other = page.locator(f"#sel-{items['other'].pk}")
    page.wait_for_selector(f"#sel-{items['other'].pk}[disabled]")
    assert other.is_disabled()
    assert page.locator(f"#why-{items['other'].pk}").inner_text() == "Different action: add a contract line"
    page.check(f"#sel-{items['ready2'].pk}")
    page.wait_for_selector("[data-testid=selected-count]:has-text('2 selected')")
    page.get_by_test_id("bulk-preview").click()
    page.get_by_test_id("bulk-summary").wait_for()
    assert "2 items will be applied" in page.get_by_test_id("bulk-summary").inner_text()
    page.get_by_test_id("bulk-confirm").click()
    page.get_by_test_id("bulk-finished").wait_for()
    assert "2 applied, 0 not applied, of 2" in page.get_by_test_id("bulk-finished").inner_text()
    assert page.locator(".badge.item-applied").count() == 2


def test_viewer_sees_read_only_detail_on_a_phone(phone_page, login, viewer, items):
    login(phone_page, "vera", "pw-vera")
    phone_page.goto(f"/missed-billing/{items['ready1'].pk}/")
    assert phone_page.get_by_role("heading", name="Apply plan").is_visible()
    assert phone_page.get_by_test_id("actions").count() == 0
    assert phone_page.get_by_role("button", name="Snooze").count() == 0
    width = phone_page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 400
    phone_page.goto("/missed-billing/")
    assert phone_page.locator("#queue-list tbody tr").count() == 5
    assert phone_page.evaluate("() => document.documentElement.scrollWidth") <= 400


def test_a_selection_survives_paging_and_the_preview_stays_in_reach(page, login, finance):
    product = ProductFactory(name="Managed workstation")
    for n in range(52):  # two pages
        raise_quantity_opportunity(line=billed_line(product=product), monthly_impact=Decimal(100 + n))
    login(page, "fran", "pw-fran")
    page.goto("/missed-billing/?tab=ready&select=1")
    boxes = page.locator("#queue-list input[name=ids]")
    last = boxes.nth(49)
    last_id = last.get_attribute("id")
    last.check()  # the bottom of a 50-row page
    page.wait_for_selector("[data-testid=selected-count]:has-text('1 selected')")
    preview = page.get_by_test_id("bulk-preview")
    box = preview.bounding_box()
    assert 0 <= box["y"] and box["y"] + box["height"] <= page.viewport_size["height"]  # no scrolling back up
    page.locator("a[rel=next]").click()
    page.get_by_text("Page 2 of 2").wait_for()
    page.locator("#queue-list input[name=ids]").first.check()
    page.wait_for_selector("[data-testid=selected-count]:has-text('2 selected')")
    page.locator("a[rel=prev]").click()
    page.get_by_text("Page 1 of 2").wait_for()
    assert page.locator(f"#{last_id}").is_checked()
    assert "ids=" not in page.url
    preview.click()
    page.get_by_test_id("bulk-summary").wait_for()
    assert "2 items will be applied" in page.get_by_test_id("bulk-summary").inner_text()
    assert "ids=" not in page.url


def test_a_viewer_with_select_in_the_address_sees_no_checkboxes(page, login, viewer, items):
    login(page, "vera", "pw-vera")
    page.goto("/missed-billing/?tab=ready&select=1")
    assert page.locator("#queue-list tbody tr").count() == 3
    assert page.locator("#queue-list input[type=checkbox]").count() == 0
    assert page.get_by_test_id("bulk-preview").count() == 0
