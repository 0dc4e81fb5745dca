"""The console works in the browser under its strict Content-Security-Policy."""

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def demo(keep_reference_data):
    call_command("seed_demo", verbosity=0)


def _watched(page):
    console = []
    page.on("console", lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.add_init_script(RECORD_VIOLATIONS)
    return console


def _violations(page, console):
    return console + page.evaluate("window.__cspViolations || []")


def test_every_page_renders_without_a_policy_violation(page, login, demo, live_server):
    console = _watched(page)
    login(page, "admin", "billingone-demo")
    response = page.goto("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    found = {}
    for path in ["/", "/clients/", "/invoices/", "/missed-billing/", "/missed-billing/rules/", "/admin/"]:
        page.goto(path)
        found[path] = _violations(page, console)
    first_invoice = page.goto("/invoices/") and page.locator("#invoice-table a[href^='/invoices/']").first
    first_invoice.click()
    page.wait_for_load_state()
    found["invoice page"] = _violations(page, console)
    assert {path: v for path, v in found.items() if v} == {}


def test_htmx_swaps_and_posts_work_under_the_policy(page, login, demo):
    console = _watched(page)
    login(page, "finance", "billingone-demo")
    page.goto("/clients/")
    page.fill("#id_q", "zzz-nobody")
    page.wait_for_url("**/clients/?*q=zzz-nobody*")
    assert page.locator("#client-table").get_by_text("Dunmore").count() == 0
    page.goto("/missed-billing/")
    page.get_by_role("link", name="Snoozed").first.click()
    page.wait_for_url("**tab=snoozed*")
    page.get_by_role("button", name="Sign out").click()  # a POST with the CSRF token
    page.wait_for_url("**/login/**")
    assert _violations(page, console) == []


def test_a_confirmation_asks_before_deleting_a_rule(page, login, demo):
    console = _watched(page)
    login(page, "admin", "billingone-demo")
    page.goto("/missed-billing/rules/")
    before = page.locator("form[data-confirm] button").count()
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator("form[data-confirm] button").first.click()
    assert asked and asked[0].startswith("Delete rule #")
    page.goto("/missed-billing/rules/")
    assert page.locator("form[data-confirm] button").count() == before  # dismissed: nothing deleted
    assert _violations(page, console) == []
