"""The billing-run console: who may do what, the new-run form, the run's page (progress, what
changed since the month before), Issue all with its confirmation, rebuild, cancel, a draft's page,
and the queries each page runs."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from billingone import background
from clients.dates import org_today
from clients.models import Product
from clients.services import change_contract_line, end_contract_line
from clients.tests.factories import ContractFactory, ContractLineFactory, ProductFactory
from invoices import selectors, services
from invoices.models import BillingRun, BillingRunStatus, CustomerClass, DraftInvoice, Invoice
from invoices.services.billing.periods import add_months, month_of

pytestmark = pytest.mark.django_db
D = Decimal
JAN, FEB = dt.date(2027, 1, 1), dt.date(2027, 2, 1)
RUNS = reverse("invoices:runs")
NEW = reverse("invoices:run_new")
NOWHERE = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there


@pytest.fixture(autouse=True)
def go_live(settings):
    settings.BILLING_GO_LIVE = JAN


@pytest.fixture
def standard():
    return CustomerClass.objects.create(name="Standard", payment_terms_days=14, is_default=True)


@pytest.fixture
def broker_down():
    from billingone.celery import app

    saved = app.conf.broker_url
    app.conf.broker_url = NOWHERE
    background._last_check.update(at=-background.CHECK_EVERY, problem=None)
    yield
    app.conf.broker_url = saved
    background._last_check.update(at=-background.CHECK_EVERY, problem=None)


def workstations(quantity=10, price="40.50", start=dt.date(2026, 6, 1), name=None):
    product = Product.objects.filter(sku="MS-WS").first() or ProductFactory(name="Managed workstation", sku="MS-WS")
    contract = ContractFactory(start_date=start, **({"client__name": name} if name else {}))
    return ContractLineFactory(contract=contract, product=product, quantity=quantity, unit_price=D(price))


def drafted(month=JAN, **kwargs):
    return services.start_billing_run(period_start=month, **kwargs)


def issued(month=JAN):
    return services.issue_billing_run(drafted(month), issued_on=month)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- access ----------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_login(client, standard):
    workstations()
    run = drafted()
    draft = DraftInvoice.objects.get()
    for url in [
        RUNS,
        NEW,
        run.get_absolute_url(),
        reverse("invoices:run_issue", args=[run.pk]),
        draft.get_absolute_url(),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    for name in ["run_issue", "run_rebuild", "run_cancel"]:
        assert client.post(reverse(f"invoices:{name}", args=[run.pk])).status_code == 302
    assert BillingRun.objects.get().status == BillingRunStatus.DRAFT


def test_a_viewer_reads_runs_and_drafts_but_cannot_start_issue_rebuild_or_cancel(viewer_client, standard):
    workstations(name="Acme")
    run = drafted()
    draft = DraftInvoice.objects.get()
    assert viewer_client.get(RUNS).status_code == 200
    page = text(viewer_client.get(run.get_absolute_url()))
    assert "Acme" in page and "Issue all" not in page and "Rebuild" not in page and "Cancel run" not in page
    assert "New billing run" not in text(viewer_client.get(RUNS))
    assert viewer_client.get(draft.get_absolute_url()).status_code == 200
    assert viewer_client.get(NEW).status_code == 403
    assert viewer_client.post(NEW, {"month": "2027-02", "scope": "all"}).status_code == 403
    assert viewer_client.get(reverse("invoices:run_issue", args=[run.pk])).status_code == 403
    for name in ["run_issue", "run_rebuild", "run_cancel"]:
        assert viewer_client.post(reverse(f"invoices:{name}", args=[run.pk])).status_code == 403
    assert BillingRun.objects.count() == 1 and not Invoice.objects.exists()
    assert BillingRun.objects.get().status == BillingRunStatus.DRAFT


def test_the_menu_marks_billing_runs_as_the_current_page(viewer_client, standard):
    workstations()
    run = drafted()
    for url in [RUNS, run.get_absolute_url(), DraftInvoice.objects.get().get_absolute_url()]:
        page = viewer_client.get(url).content.decode()
        assert re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>', page) == ["Billing runs"]


# --- the new-run form ------------------------------------------------------------------------


def test_the_form_proposes_next_month_in_the_organisations_time_zone(finance_client):
    page = finance_client.get(NEW).content.decode()
    next_month = add_months(month_of(org_today()), 1)
    assert f'type="month" name="month" value="{next_month:%Y-%m}"' in page


def test_finance_starts_a_run_and_it_shows_as_building_until_the_workers_report(finance_client, standard):
    workstations(name="Acme")
    response = finance_client.post(NEW, {"month": "2027-01", "scope": "all"})
    run = BillingRun.objects.get()
    assert response.status_code == 302 and response.url == run.get_absolute_url()
    assert (run.period_start, run.status, run.created_by.username) == (JAN, BillingRunStatus.BUILDING, "fran")
    page = text(finance_client.get(run.get_absolute_url()))
    assert "Building the drafts for January 2027" in page
    assert 'data-testid="run-progress"' in page and 'hx-trigger="every 2s"' in page
    assert "0 of 1 chunk of clients done (0%)" in page
    fragment = finance_client.get(run.get_absolute_url(), headers={"HX-Request": "true", "HX-Target": "run-progress"})
    assert "0 of 1 chunk" in fragment.content.decode() and "<h1>" not in fragment.content.decode()
    assert "HX-Request" in fragment["Vary"]


def test_once_the_work_is_done_the_progress_bar_reloads_the_page_and_stops(finance_client, standard):
    workstations()
    run = drafted()  # built at once, in this process
    fragment = finance_client.get(run.get_absolute_url(), headers={"HX-Request": "true", "HX-Target": "run-progress"})
    assert fragment["HX-Refresh"] == "true"
    page = text(finance_client.get(run.get_absolute_url()))
    assert 'hx-trigger="every 2s"' not in page and "Drafts ready" in page


def test_a_run_built_by_the_queued_tasks_shows_its_drafts(
    finance_client, standard, celery_eager, django_capture_on_commit_callbacks
):
    workstations(name="Acme", quantity=82)
    with django_capture_on_commit_callbacks(execute=True):
        finance_client.post(NEW, {"month": "2027-01", "scope": "all"})
    run = BillingRun.objects.get()
    assert run.status == BillingRunStatus.DRAFT and run.drafts_total == D("3321.00")
    page = text(finance_client.get(run.get_absolute_url()))
    assert 'data-testid="drafts-total">GBP 3,321.00</dd>' in page
    assert "Acme" in page


def test_a_run_for_one_customer_class_or_one_client(finance_client, standard):
    other = CustomerClass.objects.create(name="Small business", payment_terms_days=7)
    line = workstations(name="Acme")
    response = finance_client.post(NEW, {"month": "2027-01", "scope": "class", "customer_class": other.pk})
    assert response.status_code == 302
    response = finance_client.post(NEW, {"month": "2027-01", "scope": "clients", "client": line.contract.client_id})
    assert response.status_code == 302
    by_class, by_client = BillingRun.objects.order_by("id")
    assert by_class.customer_class == other and by_class.client_ids is None
    assert by_client.client_ids == [line.contract.client_id] and by_client.customer_class is None
    listing = text(finance_client.get(RUNS))
    assert "Customer class Small business" in listing and "1 chosen client" in listing


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"month": "2027-13", "scope": "all"}, "month", "Enter the month as year and month, e.g. 2027-01."),
        ({"month": "January", "scope": "all"}, "month", "Enter the month as year and month"),
        ({"month": "", "scope": "all"}, "month", "Choose the month to bill."),
        ({"month": "1999-12", "scope": "all"}, "month", "Choose a month between 2000 and 2099."),
        ({"month": "2027-01", "scope": "everyone"}, "scope", "Choose whom to bill"),
        ({"month": "2027-01", "scope": "class"}, "customer_class", "Choose the customer class to bill."),
        (
            {"month": "2027-01", "scope": "class", "customer_class": "999999"},
            "customer_class",
            "Unknown customer class",
        ),
        ({"month": "2027-01", "scope": "clients"}, "client", "Choose the client to bill"),
        ({"month": "2027-01", "scope": "clients", "client": "999999"}, "client", "Unknown client"),
    ],
)
def test_bad_input_says_what_is_wrong_and_starts_nothing(finance_client, standard, data, field, message):
    response = finance_client.post(NEW, data)
    assert response.status_code == 400
    page = text(response)
    assert f'data-testid="error-{field}"' in page and message in page
    assert "No run was started" in page
    assert not BillingRun.objects.exists()


def test_with_the_task_queue_down_no_run_is_recorded(finance_client, standard, broker_down):
    workstations()
    response = finance_client.post(NEW, {"month": "2027-01", "scope": "all"})
    assert response.status_code == 503
    assert "Background work is unavailable right now" in text(response)
    assert not BillingRun.objects.exists()


# --- the run's page: what changed since the month before ------------------------------------


@pytest.fixture
def january_then_february(standard):
    """Acme raised from 10 to 15 on 11 Jan after January was billed (up, with a catch-up);
    Bistro ended with January (gone); Cafe unchanged; Depot new in February."""
    acme = workstations(name="Acme")
    bistro = workstations(name="Bistro", quantity=3)
    workstations(name="Cafe", quantity=4)
    issued(JAN)
    change_contract_line(acme, quantity=15, effective_on=dt.date(2027, 1, 11))
    end_contract_line(bistro, on=dt.date(2027, 1, 31))
    workstations(name="Depot", quantity=2, start=FEB)
    return drafted(FEB)


def test_the_run_page_shows_what_changed_since_the_previous_month(viewer_client, january_then_february):
    run = january_then_february
    page = text(viewer_client.get(run.get_absolute_url()))
    assert "What changed since January 2027" in page
    counts = {
        key: re.search(rf'data-testid="{key}">(\d+)<', page)[1]
        for key in ["clients-new", "clients-gone", "invoices-up", "invoices-down"]
    }
    assert counts == {"clients-new": "1", "clients-gone": "1", "invoices-up": "1", "invoices-down": "0"}
    new = page.split('data-testid="new-clients"')[1].split("</table>")[0]
    gone = page.split('data-testid="gone-clients"')[1].split("</table>")[0]
    up = page.split('data-testid="invoices-up-list"')[1].split("</table>")[0]
    assert "Depot" in new and "Bistro" in gone and "121.50" in gone
    assert "Acme" in up and "405.00" in up and "+339.68" in up  # 744.68 = 607.50 − 274.35 + 411.53
    assert "Cafe" not in new + gone + up
    assert "2 lines correct earlier months for 1 client, totalling GBP 137.18." in page


def test_the_comparison_is_set_based_and_counts_every_client(january_then_february, django_assert_num_queries):
    run = january_then_february
    # the issued run exists; the counts; the adjustments; the clients gone (count, rows); new, up,
    # down; the drafts not sent (no stale ones here, so no query for them).
    with django_assert_num_queries(9):
        changes = selectors.run_changes(run)
    assert changes["counts"] | {"gone": changes["gone_count"]} == {
        "new": 1,
        "up": 1,
        "down": 0,
        "stale": 0,
        "not_sent": 3,
        "gone": 1,
    }
    assert [d.client.name for d in changes["up"]] == ["Acme"] and changes["up"][0].before == D("405.00")
    assert [row["client__name"] for row in changes["gone"]] == ["Bistro"]
    assert changes["adjustments"] == {"count": 2, "clients": 1, "total": D("137.18")}


def test_a_fall_of_more_than_ten_percent_is_listed_and_one_of_ten_is_not(standard):
    falls = workstations(name="Falls", quantity=10)
    edge = workstations(name="Edge", quantity=10)
    issued(JAN)
    change_contract_line(falls, quantity=8, effective_on=FEB)
    change_contract_line(edge, quantity=9, effective_on=FEB)  # exactly 10 % down: not "more than"
    changes = selectors.run_changes(drafted(FEB))
    assert [d.client.name for d in changes["down"]] == ["Falls"] and changes["counts"]["down"] == 1
    assert changes["down"][0].change == D("-81.00")


def test_a_first_run_says_there_is_nothing_to_compare_with(viewer_client, standard):
    workstations()
    page = text(viewer_client.get(drafted().get_absolute_url()))
    assert "No run for December 2026 has been issued, so there is nothing to compare with." in page


def test_differences_past_the_horizon_and_clients_without_e_mail_are_listed(viewer_client, settings, standard):
    settings.BILLING_GO_LIVE = dt.date(2025, 1, 1)
    settings.BILLING_BACKDATE_MONTHS = 3
    workstations(start=dt.date(2026, 8, 1), name="Acme")
    run = drafted()
    page = text(viewer_client.get(run.get_absolute_url()))
    listed = page.split('data-testid="past-horizon-list"')[1].split("</table>")[0]
    assert "2 differences older than the billing horizon were found and not billed" in page
    assert "Aug 2026" in listed and "Sep 2026" in listed and "Managed workstation" in listed and "405.00" in listed
    assert "Acme</a>: not sent: no billing e-mail" in page


# --- issue all, rebuild, cancel -------------------------------------------------------------


def test_issue_all_asks_first_with_the_count_and_total(
    finance_client, standard, celery_eager, django_capture_on_commit_callbacks
):
    workstations(name="Acme", quantity=82)
    workstations(name="Bistro", quantity=3)
    run = drafted()
    confirm = text(finance_client.get(reverse("invoices:run_issue", args=[run.pk])))
    assert 'data-testid="issue-count">2<' in confirm and "GBP 3,442.50" in confirm
    assert not Invoice.objects.exists()  # asking issues nothing
    built = re.search(r'name="built" value="([^"]*)"', confirm)[1]
    with django_capture_on_commit_callbacks(execute=True):
        response = finance_client.post(reverse("invoices:run_issue", args=[run.pk]), {"built": built})
    assert response.status_code == 302 and response.url == run.get_absolute_url()
    run.refresh_from_db()
    assert run.status == BillingRunStatus.ISSUED and run.issued_by.username == "fran"
    page = text(finance_client.get(run.get_absolute_url()))
    assert "Issuing the invoices of January 2027" in page
    numbers = re.findall(r'data-testid="invoice-number">([^<]+)<', page)
    year = org_today().year  # issued today: numbers carry the issue year
    assert sorted(numbers) == [f"INV-{year}-000001", f"INV-{year}-000002"]


def test_a_confirmation_shown_before_a_rebuild_issues_nothing(finance_client, standard, celery_eager):
    workstations()
    run = drafted()
    confirm = text(finance_client.get(reverse("invoices:run_issue", args=[run.pk])))
    built = re.search(r'name="built" value="([^"]*)"', confirm)[1]
    services.rebuild_billing_run(run)
    response = finance_client.post(reverse("invoices:run_issue", args=[run.pk]), {"built": built}, follow=True)
    assert "The drafts were rebuilt since this confirmation was shown, so nothing was issued" in text(response)
    assert not Invoice.objects.exists() and BillingRun.objects.get().status == BillingRunStatus.DRAFT


def test_issuing_an_issued_run_again_shows_the_services_refusal(finance_client, standard):
    workstations()
    run = issued()
    confirm = text(finance_client.get(reverse("invoices:run_issue", args=[run.pk])))
    assert "This run is issued: only a run whose drafts are ready can be issued." in confirm
    assert 'data-testid="confirm-issue"' not in confirm
    built = run.built_at.isoformat()
    response = finance_client.post(reverse("invoices:run_issue", args=[run.pk]), {"built": built}, follow=True)
    assert "This run is issued: only drafts can be issued." in text(response)
    assert Invoice.objects.count() == 1


def test_with_the_task_queue_down_issue_and_rebuild_change_nothing(finance_client, standard, broker_down):
    workstations()
    run = drafted()
    built = run.built_at.isoformat()
    response = finance_client.post(reverse("invoices:run_issue", args=[run.pk]), {"built": built}, follow=True)
    assert "Background work is unavailable right now" in text(response)
    response = finance_client.post(reverse("invoices:run_rebuild", args=[run.pk]), follow=True)
    assert "Background work is unavailable right now" in text(response)
    run.refresh_from_db()
    assert run.status == BillingRunStatus.DRAFT and run.drafts_count == 1 and not Invoice.objects.exists()


def test_finance_rebuilds_a_run_from_the_contracts_as_they_are_now(
    finance_client, standard, celery_eager, django_capture_on_commit_callbacks
):
    line = workstations()
    run = drafted()
    change_contract_line(line, quantity=12, effective_on=JAN)
    with django_capture_on_commit_callbacks(execute=True):
        response = finance_client.post(reverse("invoices:run_rebuild", args=[run.pk]), follow=True)
    assert "Rebuilding the drafts of January 2027" in text(response)
    run.refresh_from_db()
    assert run.status == BillingRunStatus.DRAFT and run.drafts_total == D("486.00")


def test_finance_cancels_a_draft_run_but_not_an_issued_one(finance_client, standard):
    workstations()
    run = drafted()
    response = finance_client.post(reverse("invoices:run_cancel", args=[run.pk]), follow=True)
    page = text(response)
    assert "The billing run for January 2027 is cancelled" in page and "This run was cancelled" in page
    assert BillingRun.objects.get().status == BillingRunStatus.CANCELLED and not DraftInvoice.objects.exists()
    done = issued()
    response = finance_client.post(reverse("invoices:run_cancel", args=[done.pk]), follow=True)
    assert "This run is issued: it can no longer be cancelled." in text(response)
    assert BillingRun.objects.get(pk=done.pk).status == BillingRunStatus.ISSUED


def test_a_stale_draft_is_shown_with_its_reason(viewer_client, standard):
    line = workstations(name="Acme")
    run = drafted()
    change_contract_line(line, quantity=12, effective_on=JAN)
    run = services.issue_billing_run(run, issued_on=JAN)
    page = text(viewer_client.get(run.get_absolute_url()))
    stale = page.split('data-testid="stale-drafts"')[1].split("</div>")[0]
    assert "1 draft no longer matches the contracts and was not issued." in stale
    assert "Acme</a>: The contracts changed since this draft was built: rebuild the run." in stale
    draft = text(viewer_client.get(DraftInvoice.objects.get().get_absolute_url()))
    assert 'data-testid="stale-badge"' in draft and "Not issued: The contracts changed" in draft


# --- a draft's page --------------------------------------------------------------------------


def test_the_draft_page_shows_its_lines_months_and_adjustments_then_its_invoice(viewer_client, standard):
    line = workstations(name="Acme")
    issued(JAN)
    change_contract_line(line, quantity=15, effective_on=dt.date(2027, 1, 11))
    run = drafted(FEB)
    draft = DraftInvoice.objects.get(run=run)
    page = text(viewer_client.get(draft.get_absolute_url()))
    assert 'data-testid="draft-badge">Draft<' in page and "GBP 744.68" in page
    assert "Managed workstation — Feb 2027, 15 × 40.50" in page
    assert page.count('data-testid="adjustment"') == 2 and "21/31" in page and "Jan 2027" in page
    assert f'href="{run.get_absolute_url()}"' in page
    assert "Download PDF" not in page  # a draft has no PDF until it is issued
    services.issue_billing_run(run, issued_on=FEB)
    draft.refresh_from_db()
    page = text(viewer_client.get(draft.get_absolute_url()))
    assert f'Issued as invoice <a href="{draft.invoice.get_absolute_url()}">{draft.invoice.number}</a>' in page
    assert reverse("invoices:draft_pdf", args=[draft.pk]) in page


def test_an_unknown_run_or_draft_is_a_404(viewer_client):
    assert viewer_client.get(reverse("invoices:run", args=[999999])).status_code == 404
    assert viewer_client.get(reverse("invoices:draft", args=[999999])).status_code == 404


# --- query counts ----------------------------------------------------------------------------


def test_the_runs_list_runs_a_fixed_number_of_queries(viewer_client, standard, django_assert_num_queries):
    workstations()
    drafted()
    viewer_client.get(RUNS)  # warm the session
    # session, user, user permissions, group permissions, count, one page of runs with their people and class
    with django_assert_num_queries(6):
        viewer_client.get(RUNS, headers={"HX-Request": "true", "HX-Target": "run-table"})
    for month in [FEB, dt.date(2027, 3, 1)]:
        issued(month)
    with django_assert_num_queries(6):
        viewer_client.get(RUNS, headers={"HX-Request": "true", "HX-Target": "run-table"})
    with django_assert_num_queries(7):  # the full page adds the header bell's unread count
        viewer_client.get(RUNS)


def test_the_run_page_and_its_poll_run_a_fixed_number_of_queries(
    viewer_client, january_then_february, django_assert_num_queries
):
    run = january_then_february
    viewer_client.get(run.get_absolute_url())  # warm the session
    # session, user, user permissions, group permissions, the run; the drafts (count, page);
    # what changed (9, as above); the names of differences past the horizon (none here); the bell.
    with django_assert_num_queries(17):
        viewer_client.get(run.get_absolute_url())
    for n in range(5):
        workstations(name=f"More {n}", start=FEB)
    run = services.rebuild_billing_run(run)
    with django_assert_num_queries(17):
        viewer_client.get(run.get_absolute_url())
    with django_assert_num_queries(7):  # the drafts' next page: session, user, perms (2), run, count, page
        viewer_client.get(run.get_absolute_url() + "?page=1", headers={"HX-Request": "true", "HX-Target": "run-drafts"})
    BillingRun.objects.filter(pk=run.pk).update(status=BillingRunStatus.BUILDING)
    with django_assert_num_queries(5):  # the poll: session, user, perms (2), the run
        viewer_client.get(run.get_absolute_url(), headers={"HX-Request": "true", "HX-Target": "run-progress"})


def test_the_draft_page_runs_a_fixed_number_of_queries(viewer_client, standard, django_assert_num_queries):
    line = workstations(name="Acme")
    issued(JAN)
    change_contract_line(line, quantity=15, effective_on=dt.date(2027, 1, 11))
    draft = DraftInvoice.objects.get(run=drafted(FEB))
    assert draft.lines.count() == 3
    viewer_client.get(draft.get_absolute_url())
    # session, user, user permissions, group permissions, the draft with client, run and invoice,
    # its lines, the bell
    with django_assert_num_queries(7):
        viewer_client.get(draft.get_absolute_url())
