"""Import pages: upload → preview → commit for Admins; nobody else gets in."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billingone.tests.html import element, elements
from clients.models import ContractLine
from opportunities.models import Device, SourceImport
from opportunities.services import imports as import_services
from opportunities.services.imports import default_effective_date

from .factories import ContractFactory, DeviceFactory, ProductFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]
CSV = "device_id,client,hostname,device_type\r\nd-1,RMM-1,WS-1,workstation\r\nd-2,RMM-1,=HYPERLINK(1),server\r\n"


def post_file(client, content, source="devices", name="devices.csv"):
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        reverse("opportunities:import_upload"), {"source": source, "file": SimpleUploadedFile(name, data)}
    )


@pytest.mark.parametrize(("who", "status"), [(None, 302), ("viewer", 403), ("finance", 403), ("admin", 200)])
def test_only_admins_reach_the_imports_page(client, viewer, finance, admin_user, who, status):
    users = {"viewer": viewer, "finance": finance, "admin": admin_user}
    if who:
        client.force_login(users[who])
    assert client.get(reverse("opportunities:imports")).status_code == status


def test_finance_cannot_upload(finance_client, acme):
    assert post_file(finance_client, CSV).status_code == 403
    assert not SourceImport.objects.exists()


def test_upload_previews_then_commit_replaces_the_devices(admin_client_, admin_user, acme):
    DeviceFactory(client=acme, device_id="old")
    response = post_file(admin_client_, CSV)
    imp = SourceImport.objects.get()
    assert response.status_code == 302 and response["Location"] == imp.get_absolute_url()
    page = admin_client_.get(imp.get_absolute_url()).content.decode()
    assert "Ready to commit" in page and "Commit import" in page
    assert "2 new, 0 changed, 1 gone" in page
    assert Device.objects.count() == 1
    response = admin_client_.post(reverse("opportunities:import_commit", args=[imp.pk]))
    assert response.status_code == 302
    assert sorted(Device.objects.values_list("device_id", flat=True)) == ["d-1", "d-2"]
    imp.refresh_from_db()
    assert (imp.status, imp.committed_by, imp.uploaded_by) == ("committed", admin_user, admin_user)
    listing = admin_client_.get(reverse("opportunities:imports")).content.decode()
    assert "devices.csv" in listing and "Committed" in listing


def test_a_file_with_errors_shows_them_with_line_numbers_and_cannot_be_committed(admin_client_, acme):
    post_file(admin_client_, CSV + "d-3,Nobody,WS-3,server\r\n")
    imp = SourceImport.objects.get()
    page = admin_client_.get(imp.get_absolute_url()).content.decode()
    assert "Has errors" in page and "unknown client &quot;Nobody&quot;" in page and '<td class="num">4</td>' in page
    assert "Commit import" not in page
    admin_client_.post(reverse("opportunities:import_commit", args=[imp.pk]))
    assert not Device.objects.exists()


def test_a_missing_file_or_source_is_a_400_with_a_message(admin_client_):
    response = admin_client_.post(reverse("opportunities:import_upload"), {"source": "devices"})
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    response = post_file(admin_client_, CSV, source="printers")
    assert response.status_code == 400
    assert not SourceImport.objects.exists()


def test_a_file_over_the_limit_is_refused(admin_client_, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 20
    response = post_file(admin_client_, CSV)
    assert response.status_code == 400 and "the limit is" in response.content.decode()


def test_the_uploaded_html_is_escaped(admin_client_, acme):
    post_file(admin_client_, "device_id,client,hostname,device_type\nd-1,<b>x</b>,WS,server\n")
    page = admin_client_.get(SourceImport.objects.get().get_absolute_url()).content.decode()
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


def test_large_files_are_checked_in_the_background_with_a_progress_fragment(
    admin_client_, acme, monkeypatch, django_capture_on_commit_callbacks, celery_eager
):
    monkeypatch.setattr(import_services.workflow, "BACKGROUND_BYTES", 10)
    post_file(admin_client_, CSV)  # queued: not checked yet
    imp = SourceImport.objects.get()
    fragment = admin_client_.get(imp.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="import-status"') and "<progress" in fragment
    assert 'hx-trigger="every 1s"' in fragment
    with django_capture_on_commit_callbacks(execute=True):
        admin_client_.post(reverse("opportunities:import_commit", args=[imp.pk]))  # not checked: refused
        imp.refresh_from_db()
        assert imp.status == "pending"
        from opportunities.tasks import process_import

        process_import.delay(imp.pk, "validate")
        admin_client_.post(reverse("opportunities:import_commit", args=[imp.pk]))
    assert celery_eager.conf.task_always_eager
    imp.refresh_from_db()
    assert imp.status == "committed" and Device.objects.count() == 2
    fragment = admin_client_.get(imp.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in fragment and "Committed" in fragment


def test_discard_keeps_the_record_and_changes_nothing(admin_client_, acme):
    post_file(admin_client_, CSV)
    imp = SourceImport.objects.get()
    assert admin_client_.get(reverse("opportunities:import_discard", args=[imp.pk])).status_code == 405
    admin_client_.post(reverse("opportunities:import_discard", args=[imp.pk]))
    imp.refresh_from_db()
    assert imp.status == "discarded" and not Device.objects.exists()


def test_the_import_history_pages_as_an_htmx_fragment_in_fixed_queries(admin_client_, acme, django_assert_num_queries):
    for _ in range(3):
        post_file(admin_client_, CSV)
    # session, user, user permissions, group permissions, import count, imports with uploader
    with django_assert_num_queries(6):
        response = admin_client_.get(reverse("opportunities:imports"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="import-table">') and html.count("devices.csv") == 3


def test_the_imports_page_runs_a_fixed_number_of_queries(admin_client_, acme, django_assert_num_queries):
    for _ in range(3):
        post_file(admin_client_, CSV)
    # session, user, user permissions, group permissions, import count, imports with uploader,
    # devices held, subscriptions held, imported contract lines held, the header bell's unread count
    with django_assert_num_queries(10):
        response = admin_client_.get(reverse("opportunities:imports"))
    assert "Now held: 0 devices" in response.content.decode()


@pytest.mark.postgres
def test_a_commit_blocked_by_readers_says_so_and_stays_ready(admin_client_, acme, monkeypatch):
    from django.db import OperationalError

    from opportunities.services.imports import postgres as imports_pg

    post_file(admin_client_, CSV)
    imp = SourceImport.objects.get()

    def readers_hold_the_table(imp):
        raise OperationalError("canceling statement due to lock timeout")

    monkeypatch.setattr(imports_pg, "swap_in", readers_hold_the_table)
    response = admin_client_.post(reverse("opportunities:import_commit", args=[imp.pk]), follow=True)
    page = response.content.decode()
    assert "Commit again in a minute" in page and "Commit import" in page
    assert SourceImport.objects.get().status == SourceImport.Status.READY
    assert not Device.objects.exists()


LINES = "line_id,contract,product_sku,quantity,unit_price\nL-1,AGR-1,MS-WS,1,45.00\n"


def post_lines(client, effective_on):
    data = {"source": "contract_lines", "file": SimpleUploadedFile("psa.csv", LINES.encode())}
    return client.post(reverse("opportunities:import_upload"), data | {"effective_on": effective_on})


def test_a_contract_lines_upload_takes_effect_on_the_date_given_and_the_page_says_so(admin_client_, acme):
    ContractFactory(client=acme, number="AGR-1")
    ProductFactory(sku="MS-WS")
    page = admin_client_.get(reverse("opportunities:imports"))
    field = element(page, "input", data_testid="import-effective-on")
    assert (field["type"], field["value"]) == ("date", default_effective_date().isoformat())
    assert "Contract lines only: one date for the whole file" in page.content.decode()
    response = post_lines(admin_client_, "2026-07-01")
    imp = SourceImport.objects.get()
    assert response.status_code == 302 and imp.effective_on == dt.date(2026, 7, 1)
    page = admin_client_.get(imp.get_absolute_url())
    said = " ".join(element(page, "p", data_testid="import-effective").text.split())
    assert said.startswith("Changes take effect on 1 Jul 2026: a line gone from the file is ended the day before")
    assert "Committing changes the contract lines from 1 Jul 2026 to match this file: 1 new, 0 changed, 0 gone" in (
        " ".join(page.content.decode().split())
    )
    admin_client_.post(reverse("opportunities:import_commit", args=[imp.pk]))
    assert ContractLine.objects.get(external_id="L-1").start_date == dt.date(2026, 7, 1)


@pytest.mark.parametrize(
    ("sent", "message"),
    [("2026-02-30", "That is not a date: use the date picker (YYYY-MM-DD)."), ("2099-01-01", "more than a year ahead")],
    ids=["not-a-date", "too-far-ahead"],
)
def test_a_bad_date_for_contract_lines_is_a_form_error_and_nothing_is_kept(admin_client_, acme, sent, message):
    response = post_lines(admin_client_, sent)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not SourceImport.objects.exists()


def test_the_date_is_ignored_for_devices(admin_client_, acme):
    data = {"source": "devices", "file": SimpleUploadedFile("d.csv", CSV.encode()), "effective_on": "soon"}
    assert admin_client_.post(reverse("opportunities:import_upload"), data).status_code == 302
    imp = SourceImport.objects.get()
    assert imp.effective_on is None
    assert not elements(admin_client_.get(imp.get_absolute_url()), "p", data_testid="import-effective")
