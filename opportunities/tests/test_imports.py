"""CSV imports: header and row checks, preview counts, all-or-nothing commit (both engines)."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from clients.models import ContractChange, ContractLine
from opportunities.models import Device, Opportunity, SourceImport, Subscription
from opportunities.services.imports import (
    SPECS,
    ImportRejectedError,
    commit_import,
    create_import,
    validate_import,
)

from .factories import (
    ContractFactory,
    ContractLineFactory,
    DeviceFactory,
    DeviceRuleFactory,
    ProductFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

DEVICES_HEADER = "device_id,client,hostname,device_type,os,last_seen\r\n"


@pytest.fixture
def eager(celery_eager):
    # The detection a commit queues runs inline (no broker needed, none written to disk).
    return celery_eager


def upload(source, content: bytes | str, name="export.csv", **kwargs):
    data = content.encode() if isinstance(content, str) else content
    return create_import(source=source, uploaded_file=SimpleUploadedFile(name, data), **kwargs)


def test_a_clean_device_file_previews_counts_and_changes_nothing(acme):
    DeviceFactory(client=acme, device_id="old-1")
    DeviceFactory(client=acme, device_id="d-2", hostname="WS-2")
    imp = upload(
        "devices",
        DEVICES_HEADER + "d-1,RMM-1,WS-1,workstation,Windows 11,2026-11-20T10:00:00Z\r\n"
        "d-2,Acme Ltd,WS-2-renamed,Workstation,,\r\n",
    )
    imp = validate_import(imp=imp)
    assert imp.status == SourceImport.Status.READY, imp.errors
    assert (imp.rows_total, imp.count_new, imp.count_changed, imp.count_gone) == (2, 1, 1, 1)
    assert sorted(Device.objects.values_list("device_id", flat=True)) == ["d-2", "old-1"]


def test_commit_replaces_the_snapshot_and_runs_detection_for_touched_clients(
    acme, eager, django_capture_on_commit_callbacks
):
    DeviceRuleFactory(product=ProductFactory(name="Managed workstation"))
    DeviceFactory(client=acme, device_id="old-1")
    imp = upload("devices", DEVICES_HEADER + "d-1,RMM-1,WS-1,workstation,,\r\nd-2,RMM-1,WS-2,workstation,,\r\n")
    with django_capture_on_commit_callbacks(execute=True):
        imp = commit_import(imp=imp)
    assert imp.status == SourceImport.Status.COMMITTED
    assert sorted(Device.objects.values_list("device_id", flat=True)) == ["d-1", "d-2"]
    assert imp.touched_client_ids == [acme.pk]
    opp = Opportunity.objects.get()
    assert opp.expected_quantity == 2
    imp.refresh_from_db()
    assert imp.detection_run.trigger == "import"


@pytest.mark.parametrize(
    "content",
    [
        "\ufeff" + DEVICES_HEADER + "d-1,RMM-1,WS-1,server,,\r\n",
        "device_id;client;hostname;device_type\nd-1;RMM-1;WS-1;server\n",
    ],
    ids=["bom-crlf", "semicolons"],
)
def test_bom_windows_line_endings_and_semicolons_are_accepted(acme, content):
    imp = commit_import(imp=upload("devices", content))
    assert imp.status == SourceImport.Status.COMMITTED, imp.errors
    assert Device.objects.get().device_type == "server"


def test_row_errors_name_their_lines_and_nothing_changes(acme):
    DeviceFactory(client=acme, device_id="keep-me")
    content = (
        DEVICES_HEADER
        + "d-1,RMM-1,WS-1,workstation,,\r\n"
        + "d-2,Nobody Inc,WS-2,workstation,,\r\n"
        + "d-1,RMM-1,WS-3,workstation,,\r\n"
        + ",RMM-1,WS-4,workstation,,\r\n"
        + "d-5,RMM-1,WS-5,toaster,,\r\n"
        + "d-6,RMM-1,WS-6,server,,yesterday\r\n"
    )
    imp = commit_import(imp=upload("devices", content))
    assert imp.status == SourceImport.Status.INVALID
    assert [(e["line"], e["message"]) for e in imp.errors] == [
        (3, 'unknown client "Nobody Inc"'),
        (4, 'duplicate id "d-1" (first on line 2)'),
        (5, "device id is missing"),
        (6, 'device type "toaster" is not one of workstation, server, network, other'),
        (7, 'last seen "yesterday" is not a date and time'),
    ]
    assert list(Device.objects.values_list("device_id", flat=True)) == ["keep-me"]


def test_an_impossible_calendar_date_is_a_row_error_not_a_crash(acme):
    content = (
        DEVICES_HEADER + "d-1,RMM-1,WS-1,server,,2026-11-20T09:00:00Z\r\nd-2,RMM-1,WS-2,server,,2026-02-30 10:00\r\n"
    )
    imp = commit_import(imp=upload("devices", content))
    assert imp.status == SourceImport.Status.INVALID
    assert [(e["line"], e["message"]) for e in imp.errors] == [
        (3, 'last seen "2026-02-30 10:00" is not a date and time')
    ]
    assert not Device.objects.exists()


def test_a_last_seen_outside_the_window_is_a_row_error_with_its_line(acme):
    content = (
        DEVICES_HEADER
        + "d-1,RMM-1,WS-1,server,,2026-11-20T09:00:00Z\r\n"
        + "d-2,RMM-1,WS-2,server,,9999-12-31T23:59:59-12:00\r\n"
        + "d-3,RMM-1,WS-3,server,,0001-01-01T00:00:00+14:00\r\n"
    )
    imp = commit_import(imp=upload("devices", content))
    assert imp.status == SourceImport.Status.INVALID
    assert [(e["line"], e["message"]) for e in imp.errors] == [
        (3, 'last seen "9999-12-31T23:59:59-12:00" is not between 1 Jan 1990 and tomorrow'),
        (4, 'last seen "0001-01-01T00:00:00+14:00" is not between 1 Jan 1990 and tomorrow'),
    ]
    assert not Device.objects.exists()


def test_a_bad_quantity_in_a_subscription_file_is_reported(acme):
    content = "subscription_id,client,vendor_sku,product_name,quantity,status\ns-1,PAX-1,SKU1,Thing,ten,active\n"
    imp = validate_import(imp=upload("subscriptions", content))
    assert imp.errors == [{"line": 2, "message": 'quantity "ten" is not a whole number ≥ 0'}]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("hostname,client\nx,y\n", "The header is wrong (missing device_id, device_type)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV file"),
        ("   \r\n", "The file is empty."),
        (DEVICES_HEADER, "header but no rows"),
        (DEVICES_HEADER + 'd-1,RMM-1,"WS-1,workstation,,\r\n', "quote"),
        (DEVICES_HEADER + "d-1,RMM-1,WS-1\r\n", "fewer fields than the header"),
    ],
    ids=["wrong-header", "binary", "blank", "no-rows", "broken-quote", "short-row"],
)
def test_bad_files_get_a_clear_message_and_change_nothing(acme, content, expected):
    DeviceFactory(client=acme, device_id="keep-me")
    imp = commit_import(imp=upload("devices", content))
    assert imp.status == SourceImport.Status.INVALID
    assert expected in " ".join(e["message"] for e in imp.errors)
    assert list(Device.objects.values_list("device_id", flat=True)) == ["keep-me"]


def test_an_empty_or_oversized_upload_is_refused_before_it_is_kept(settings):
    with pytest.raises(ImportRejectedError, match="empty"):
        upload("devices", b"")
    settings.IMPORT_MAX_UPLOAD_BYTES = 10
    with pytest.raises(ImportRejectedError, match="limit"):
        upload("devices", DEVICES_HEADER)
    assert not SourceImport.objects.exists()


def test_a_cell_starting_with_equals_is_stored_as_text(acme):
    commit_import(imp=upload("devices", DEVICES_HEADER + "d-1,RMM-1,=cmd|' /C calc'!A0,workstation,,\r\n"))
    assert Device.objects.get().hostname == "=cmd|' /C calc'!A0"


def test_subscriptions_import_replaces_the_snapshot(acme):
    content = "subscription_id,client,vendor_sku,product_name,quantity,status,term\r\ns-1,PAX-1,CFQ7TTC0LCHC,M365 BP,12,,monthly\r\n"
    imp = commit_import(imp=upload("subscriptions", content))
    assert imp.status == SourceImport.Status.COMMITTED, imp.errors
    sub = Subscription.objects.get()
    assert (sub.quantity, sub.status, sub.client) == (12, "active", acme)
    again = commit_import(imp=upload("subscriptions", content.replace(",12,", ",15,")))
    assert (again.count_new, again.count_changed, again.count_gone) == (0, 1, 0)
    assert Subscription.objects.get().quantity == 15


def test_contract_lines_import_updates_lines_and_records_each_change(acme, admin_user):
    """From the import's date: a gone line ends the day before, a changed line gets a new segment,
    a new line starts then; each write is recorded as the import's, with the uploader."""
    effective_on, day = dt.date(2026, 7, 1), dt.timedelta(days=1)
    contract = ContractFactory(client=acme, number="AGR-1")
    product = ProductFactory(sku="MS-WS")
    changed = ContractLineFactory(contract=contract, product=product, quantity=3, external_id="L-1")
    gone = ContractLineFactory(contract=contract, product=product, quantity=1, external_id="L-OLD")
    manual = ContractLineFactory(contract=contract, product=product, quantity=1, external_id="")
    content = "line_id,client,contract,product_sku,quantity,unit_price\nL-1,PSA-1,AGR-1,ms-ws,5,45.00\nL-2,PSA-1,AGR-1,MS-WS,2,40\n"
    imp = upload("contract_lines", content, actor=admin_user, effective_on=effective_on)
    imp = commit_import(imp=imp)
    assert imp.status == SourceImport.Status.COMMITTED, imp.errors
    assert (imp.count_new, imp.count_changed, imp.count_gone) == (1, 1, 1)
    gone.refresh_from_db()
    assert (gone.start_date, gone.end_date, gone.quantity) == (contract.start_date, effective_on - day, 1)
    changed.refresh_from_db()
    assert (changed.end_date, changed.quantity) == (effective_on - day, 3)
    successor = ContractLine.objects.get(replaces=changed)
    assert (successor.external_id, successor.start_date, successor.end_date, successor.quantity) == (
        "L-1",
        effective_on,
        None,
        5,
    )
    added = ContractLine.objects.get(external_id="L-2")
    assert (added.start_date, added.end_date, added.quantity, str(added.unit_price)) == (effective_on, None, 2, "40.00")
    manual.refresh_from_db()
    assert manual.end_date is None
    changes = ContractChange.objects.order_by("action")
    assert [c.action for c in changes] == ["ended", "line_added", "line_changed"]
    assert {(c.source, c.actor) for c in changes} == {("import", admin_user)}
    assert all(f"import #{imp.pk}" in c.detail for c in changes)


def test_contract_lines_with_unknown_contract_or_product_are_errors(acme):
    ContractFactory(client=acme, number="AGR-1")
    content = "line_id,contract,product_sku,quantity,unit_price\nL-1,AGR-9,MS-WS,5,45.00\nL-2,AGR-1,NOPE,1,1.005\n"
    imp = validate_import(imp=upload("contract_lines", content))
    assert [e["message"] for e in imp.errors] == ['unknown contract "AGR-9"', 'unknown product SKU "NOPE"']


def test_committing_twice_imports_once(acme):
    imp = upload("devices", DEVICES_HEADER + "d-1,RMM-1,WS-1,workstation,,\r\n")
    first = commit_import(imp=imp)
    stale = SourceImport.objects.get(pk=imp.pk)
    stale.status = SourceImport.Status.READY  # a second request that read the import before the first commit
    again = commit_import(imp=stale)
    assert first.status == again.status == SourceImport.Status.COMMITTED
    assert Device.objects.count() == 1


def test_deleting_a_client_still_deletes_its_snapshot_rows(acme):
    commit_import(imp=upload("devices", DEVICES_HEADER + "d-1,RMM-1,WS-1,server,,\r\n"))
    assert Device.objects.filter(client=acme).count() == 1
    acme.delete()
    assert not Device.objects.exists()


def test_two_imports_on_one_connection_both_commit(acme):
    first = commit_import(imp=upload("devices", DEVICES_HEADER + "d-1,RMM-1,WS-1,server,,\r\n"))
    second = commit_import(imp=upload("devices", DEVICES_HEADER + "d-2,RMM-1,WS-2,server,,\r\n"))
    assert (first.status, second.status) == ("committed", "committed")
    assert list(Device.objects.values_list("device_id", flat=True)) == ["d-2"]


def test_a_client_deleted_between_preview_and_commit_is_reported_and_nothing_changes(acme):
    from clients.tests.factories import ClientFactory

    gone = ClientFactory(rmm_id="RMM-GONE")
    imp = validate_import(
        imp=upload("devices", DEVICES_HEADER + "d-1,RMM-1,WS-1,server,,\r\nd-2,RMM-GONE,WS-2,server,,\r\n")
    )
    assert imp.status == SourceImport.Status.READY
    gone.delete()
    imp = commit_import(imp=imp)
    assert imp.status == SourceImport.Status.INVALID
    assert [(e["line"], e["message"]) for e in imp.errors] == [(3, 'unknown client "RMM-GONE"')]
    assert not Device.objects.exists()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("d-1,RMM-NOPE,WS-1,server,,", 'unknown client "RMM-NOPE"'),
        ("d-1,RMM-1,WS-1,toaster,,", 'device type "toaster" is not one of workstation, server, network, other'),
        ("d-1,RMM-1,WS-1,,,", "device type is missing"),
        ("d-1,RMM-1,,server,,", "hostname is missing"),
        (f"{'d' * 101},RMM-1,WS-1,server,,", "device id is longer than 100 characters"),
        (f"d-1,RMM-1,{'h' * 256},server,,", "hostname is longer than 255 characters"),
        (f"d-1,RMM-1,WS-1,server,{'ö' * 201},", "os is longer than 200 characters"),
    ],
    ids=["unknown-client", "bad-type", "no-type", "no-hostname", "long-id", "long-hostname", "long-os"],
)
def test_a_single_bad_device_row_is_reported_with_its_line(acme, row, message):
    """Whichever check catches it (the PostgreSQL engine leaves some to the table's constraints),
    the uploader gets the line and the reason, and nothing is kept."""
    imp = validate_import(imp=upload("devices", DEVICES_HEADER + "d-0,RMM-1,WS-0,server,,\r\n" + row + "\r\n"))
    assert imp.status == SourceImport.Status.INVALID
    assert imp.errors == [{"line": 3, "message": message}]


def test_a_value_as_long_as_its_column_is_accepted(acme):
    imp = commit_import(
        imp=upload("devices", DEVICES_HEADER + f"{'d' * 100},RMM-1,{'ö' * 255},server,{'ö' * 200},\r\n")
    )
    assert imp.status == SourceImport.Status.COMMITTED, imp.errors
    assert len(Device.objects.get().hostname) == 255


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("s-1,PAX-1,SKU1,Thing,-3,active", 'quantity "-3" is not a whole number ≥ 0'),
        ("s-1,PAX-1,SKU1,Thing,3,paused", 'status "paused" is not one of active, suspended, cancelled, pending'),
        ("s-1,PAX-1,,Thing,3,active", "vendor sku is missing"),
        (f"s-1,PAX-1,{'S' * 101},Thing,3,active", "vendor sku is longer than 100 characters"),
    ],
    ids=["negative-quantity", "bad-status", "no-sku", "long-sku"],
)
def test_a_single_bad_subscription_row_is_reported_with_its_line(acme, row, message):
    header = "subscription_id,client,vendor_sku,product_name,quantity,status\n"
    imp = validate_import(imp=upload("subscriptions", header + "s-0,PAX-1,SKU1,Thing,1,active\n" + row + "\n"))
    assert imp.status == SourceImport.Status.INVALID
    assert imp.errors == [{"line": 3, "message": message}]


def test_the_length_limits_are_the_columns_lengths():
    """The PostgreSQL engine's fast path leaves over-long cells to the columns themselves."""
    for source, model in (("devices", Device), ("subscriptions", Subscription)):
        for name, limit in SPECS[source].lengths.items():
            assert model._meta.get_field(name).max_length == limit, (source, name)
