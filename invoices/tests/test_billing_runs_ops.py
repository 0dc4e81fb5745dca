"""Around billing runs: the cron command, Django admin, the roles, the beat job, and the month an
apply takes effect from by default."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from clients import billing_calendar
from clients.dates import org_today
from clients.models import Product
from clients.services import change_contract_line, remove_contract_line
from clients.tests.factories import ContractFactory, ContractLineFactory, ProductFactory
from invoices import services
from invoices.models import BillingRun, BillingRunStatus, CustomerClass, Invoice, InvoiceSequence

pytestmark = pytest.mark.django_db
JAN = dt.date(2027, 1, 1)


@pytest.fixture(autouse=True)
def go_live(settings):
    settings.BILLING_GO_LIVE = JAN
    CustomerClass.objects.create(name="Standard", payment_terms_days=14, is_default=True)


def line(quantity=4, price="25.00"):
    product = Product.objects.filter(sku="MS-WS").first() or ProductFactory(name="Managed workstation", sku="MS-WS")
    contract = ContractFactory(start_date=dt.date(2026, 6, 1))
    return ContractLineFactory(contract=contract, product=product, quantity=quantity, unit_price=Decimal(price))


def test_the_command_builds_drafts_and_with_issue_issues_them(capsys):
    one, other = line(), line()
    call_command("billing_run", "--period", "2027-01", "--client", str(one.contract.client_id))
    assert "1 draft(s), total 100.00" in capsys.readouterr().out
    assert not Invoice.objects.exists()
    call_command("billing_run", "--period", "2027-01", "--issue", "--issued-on", "2027-01-02")
    out = capsys.readouterr().out
    assert "Issued 2 invoice(s), total 200.00" in out
    assert set(Invoice.objects.values_list("client_id", flat=True)) == {
        one.contract.client_id,
        other.contract.client_id,
    }
    call_command("billing_run", "--period", "2027-01", "--issue")
    assert "0 draft(s)" in capsys.readouterr().out and Invoice.objects.count() == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "January"], "a month like 2027-01"),
        (["--period", "2027-13"], "a month like 2027-01"),
        (["--period", "2027-01", "--client", "999999"], "No client with id 999999"),
        (["--period", "2027-01", "--issue", "--issued-on", "2nd"], "a date like"),
    ],
)
def test_the_command_refuses_bad_arguments_and_builds_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("billing_run", *args)
    assert not BillingRun.objects.exists()


def test_roles_create_issue_and_cancel_runs_viewers_read(viewer, finance):
    for perm in ("add_billingrun", "change_billingrun", "issue_billingrun"):
        assert finance.has_perm(f"invoices.{perm}") and not viewer.has_perm(f"invoices.{perm}")
    assert viewer.has_perm("invoices.view_billingrun") and viewer.has_perm("invoices.view_draftinvoice")


def test_the_beat_job_for_next_months_drafts_is_there_and_off():
    task = PeriodicTask.objects.get(task="invoices.build_next_month_drafts")
    assert not task.enabled and task.crontab.day_of_month == "25"


def test_admin_shows_runs_and_drafts_read_only_and_cancels_through_the_service(admin_client_, admin_user):
    line()
    run = services.start_billing_run(period_start=JAN)
    draft = run.drafts.get()
    for name, args in [
        ("billingrun_changelist", []),
        ("billingrun_change", [run.pk]),
        ("draftinvoice_changelist", []),
        ("draftinvoice_change", [draft.pk]),
        ("invoicesequence_changelist", []),
    ]:
        page = admin_client_.get(reverse(f"admin:invoices_{name}", args=args), {} if args else {"q": "x"})
        assert page.status_code == 200, name
    assert admin_client_.get(reverse("admin:invoices_billingrun_add")).status_code == 403
    response = admin_client_.post(
        reverse("admin:invoices_billingrun_changelist"), {"action": "cancel", "_selected_action": [run.pk]}
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == BillingRunStatus.CANCELLED and run.cancelled_by == admin_user and not run.drafts.exists()


def test_admin_changes_the_number_prefix_but_never_the_counter(admin_client_):
    line()
    services.issue_billing_run(services.start_billing_run(period_start=JAN), issued_on=JAN)
    sequence = InvoiceSequence.objects.get()
    url = reverse("admin:invoices_invoicesequence_change", args=[sequence.pk])
    assert admin_client_.post(url, {"prefix": "B1-{year}/", "width": 4, "next_value": 1}).status_code == 302
    sequence.refresh_from_db()
    assert (sequence.prefix, sequence.width, sequence.next_value) == ("B1-{year}/", 4, 2)
    line()
    run = services.issue_billing_run(services.start_billing_run(period_start=dt.date(2027, 2, 1)), issued_on=JAN)
    assert sorted(Invoice.objects.filter(billing_run=run).values_list("number", flat=True))[-1] == "B1-2027/0003"


def test_an_apply_defaults_to_the_month_after_what_was_last_invoiced():
    first = line()
    client_id = first.contract.client_id
    assert billing_calendar.first_unbilled_month(client_id) == org_today().replace(day=1)
    services.issue_billing_run(services.start_billing_run(period_start=JAN), issued_on=JAN)
    assert billing_calendar.first_unbilled_month(client_id) == dt.date(2027, 2, 1)


def test_a_chunk_that_fails_fails_its_run_with_the_reason_and_a_rebuild_recovers(monkeypatch):
    line()
    run = services.create_billing_run(period_start=JAN)

    def broken(chunk):
        raise RuntimeError("disk full")

    monkeypatch.setattr("invoices.services.billing.runs.build_chunk", broken)
    with pytest.raises(RuntimeError):
        services.run_billing_chunk(run_id=run.pk, step="build", number=0)
    run.refresh_from_db()
    assert run.status == BillingRunStatus.FAILED and "disk full" in run.error and "Rebuild" in run.error
    monkeypatch.undo()
    run = services.rebuild_billing_run(run)
    assert run.status == BillingRunStatus.DRAFT and run.drafts_count == 1 and not run.error


def test_a_chunk_delivered_twice_runs_once():
    line()
    run = services.create_billing_run(period_start=JAN)
    services.run_billing_chunk(run_id=run.pk, step="build", number=0)
    services.run_billing_chunk(run_id=run.pk, step="build", number=0)
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.drafts_count) == (BillingRunStatus.DRAFT, 1, 1)


def test_a_rebuild_computes_only_the_clients_that_changed(django_assert_max_num_queries):
    kept, changed = line(), line()
    run = services.start_billing_run(period_start=JAN)
    first_ids = dict(run.drafts.values_list("client_id", "pk"))
    with django_assert_max_num_queries(40):
        run = services.rebuild_billing_run(run)  # nothing changed: no client computed again
    assert dict(run.drafts.values_list("client_id", "pk")) == first_ids
    change_contract_line(changed, quantity=6, effective_on=JAN)
    run = services.rebuild_billing_run(run)
    drafts = dict(run.drafts.values_list("client_id", "pk"))
    assert drafts[kept.contract.client_id] == first_ids[kept.contract.client_id]
    assert drafts[changed.contract.client_id] != first_ids[changed.contract.client_id]
    assert (run.status, run.drafts_count, run.drafts_total) == (BillingRunStatus.DRAFT, 2, Decimal("250.00"))


def test_a_rebuild_after_a_line_was_removed_drops_that_clients_draft():
    gone = line()
    run = services.start_billing_run(period_start=JAN)
    remove_contract_line(gone)
    run = services.rebuild_billing_run(run)
    assert run.drafts_count == 0 and not run.drafts.exists()
