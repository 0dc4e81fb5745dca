"""A billing run in Chromium, with a real Celery worker on Redis: Finance starts a run, watches its
progress bar reach "Drafts ready", opens a draft, issues after the confirmation and sees the
invoice numbers."""

import datetime as dt
import re
from decimal import Decimal

import pytest

from clients.dates import org_today
from clients.tests.factories import ContractFactory, ContractLineFactory, ProductFactory
from invoices.models import BillingRun, BillingRunStatus, CustomerClass, Invoice

pytestmark = [
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("keep_reference_data"),  # roles survive the flushes
]

# Every page here also runs under the console's Content-Security-Policy (no inline script or style).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(e.violatedDirective));
"""


@pytest.fixture(autouse=True)
def setup(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BILLING_GO_LIVE = dt.date(2027, 1, 1)
    settings.BILLING_CHUNK_CLIENTS = 1  # one chunk per client: the bar moves in steps
    CustomerClass.objects.create(name="Standard", payment_terms_days=14, is_default=True)


@pytest.fixture
def worker():
    """A real Celery worker (threads) on the test's Redis database, started when the test asks."""
    from celery.contrib.testing.worker import start_worker

    from billingone.celery import app

    app.control.purge()  # nothing left over from an earlier session
    return lambda: start_worker(app, perform_ping_check=False, pool="threads", concurrency=2, shutdown_timeout=30)


def test_finance_builds_watches_opens_a_draft_and_issues(page, login, finance, worker):
    product = ProductFactory(name="Managed workstation", sku="MS-WS")
    for name, quantity in [("Acme Dental", 82), ("Bolt Logistics", 3), ("Cedar Law", 5)]:
        contract = ContractFactory(client__name=name, start_date=dt.date(2026, 6, 1))
        ContractLineFactory(contract=contract, product=product, quantity=quantity, unit_price=Decimal("40.50"))
    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.add_init_script(RECORD_VIOLATIONS)
    login(page, "fran", "pw-fran")
    page.get_by_role("link", name="Billing runs").click()
    page.get_by_test_id("new-run").click()
    page.fill("input[name=month]", "2027-01")
    page.get_by_test_id("build-drafts").click()

    # The chunks wait in Redis: no worker has started yet, so the bar shows where the run stands.
    page.wait_for_selector("[data-testid=run-progress]")
    assert "0 of 3 chunks of clients done (0%)" in page.get_by_test_id("run-progress").inner_text()
    run = BillingRun.objects.get()
    assert run.status == BillingRunStatus.BUILDING

    with worker():
        # The bar polls every 2 s; once the last chunk is done the page reloads with the drafts.
        page.wait_for_selector("[data-testid=run-status]:has-text('Drafts ready')", timeout=30_000)
        assert page.get_by_test_id("run-progress").count() == 0
        assert page.get_by_test_id("drafts-count").inner_text() == "3"
        assert page.get_by_test_id("drafts-total").inner_text() == "GBP 3,645.00"

        page.get_by_role("link", name="Acme Dental").first.click()
        assert page.get_by_test_id("draft-badge").inner_text() == "Draft"
        assert "Managed workstation — Jan 2027, 82 × 40.50" in page.inner_text("#draft-lines")
        assert "3,321.00" in page.get_by_test_id("draft-total").inner_text()
        page.get_by_role("link", name="Back to the run").click()

        page.get_by_test_id("issue-all").click()
        assert page.get_by_test_id("issue-count").inner_text() == "3"
        assert page.get_by_test_id("issue-total").inner_text() == "GBP 3,645.00"
        assert not Invoice.objects.exists()  # the confirmation issues nothing
        page.get_by_test_id("confirm-issue").click()

        page.wait_for_selector("[data-testid=run-status]:has-text('Issued')", timeout=30_000)
        numbers = [n.inner_text() for n in page.get_by_test_id("invoice-number").all()]
    year = org_today().year
    assert sorted(numbers) == [f"INV-{year}-00000{n}" for n in (1, 2, 3)]
    assert page.get_by_test_id("issued-count").inner_text() == "3"
    assert re.search(r"issued by fran, dated", page.inner_text("main"))
    assert sorted(Invoice.objects.values_list("number", flat=True)) == sorted(numbers)

    assert violations + page.evaluate("window.__cspViolations") == []
    page.get_by_role("link", name=numbers[0], exact=True).click()
    assert page.get_by_test_id("invoice-status").is_visible()
    assert page.locator("h1").inner_text() == f"Invoice {numbers[0]}"
