"""The PostgreSQL import engine: a preview prepares the next snapshot table, a commit swaps it in."""

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from opportunities.models import Device, SourceImport
from opportunities.services.imports import commit_import, create_import, discard_import, validate_import
from opportunities.services.imports import postgres as imports_pg
from opportunities.services.imports.postgres import build, stage, swap

from .factories import ClientFactory, DeviceFactory, DeviceRuleFactory, ProductFactory

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("keep_reference_data", "media")]

HEADER = "device_id,client,hostname,device_type,os,last_seen\r\n"


def upload(content):
    return create_import(source="devices", uploaded_file=SimpleUploadedFile("rmm.csv", content.encode()))


def prepared_tables():
    with connection.cursor() as cur:
        cur.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE 'opportunities\\_%%\\_next\\_%%' ORDER BY 1"
        )
        return [row[0] for row in cur.fetchall()]


def structure():
    """The device table's columns, constraints and indexes as Django sees them (names included)."""
    with connection.cursor() as cur:
        constraints = connection.introspection.get_constraints(cur, Device._meta.db_table)
        columns = [
            (c.name, c.type_code, c.null_ok, c.collation)
            for c in connection.introspection.get_table_description(cur, "opportunities_device")
        ]
    keep = ("columns", "primary_key", "unique", "index", "check", "definition")
    return columns, {name: {k: c.get(k) for k in keep} for name, c in constraints.items()}


@pytest.mark.django_db
def test_the_swapped_in_table_has_the_same_columns_constraints_and_indexes(acme):
    DeviceFactory(client=acme, device_id="d-1", hostname="OLD-1")
    before = structure()
    imp = commit_import(imp=upload(HEADER + "d-1,RMM-1,WS-1,workstation,,\r\n"))
    assert imp.status == SourceImport.Status.COMMITTED
    assert structure() == before
    assert ("device_id", "C") in [(name, collation) for name, _t, _n, collation in before[0]]
    assert [c["columns"] for c in before[1].values() if c["primary_key"]] == [["device_id"]]
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'opportunities_device'")
        assert cur.fetchone()[0] == 2  # the key and (client, product); no varchar_pattern_ops twin
    # The device keeps its key (and its admin URL) across imports.
    assert Device.objects.get(pk="d-1").hostname == "WS-1"
    # The ORM and the database constraints work on it as before.
    extra = Device.objects.create(device_id="d-2", client=acme, hostname="WS-2", device_type="server")
    assert extra.pk == "d-2" and Device.objects.count() == 2
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Device.objects.create(device_id="d-2", client=acme, hostname="dup", device_type="server")
    assert prepared_tables() == []


@pytest.mark.django_db
def test_a_table_changed_by_a_migration_after_the_preview_is_prepared_again(acme):
    imp = validate_import(imp=upload(HEADER + "d-1,RMM-1,WS-1,workstation,,\r\n"))
    assert imports_pg.is_prepared(imp)
    with connection.cursor() as cur:  # what a migration adding an index does
        cur.execute("CREATE INDEX device_hostname_idx ON opportunities_device (hostname)")
    imp = commit_import(imp=imp, queue_detection=False)
    assert imp.status == SourceImport.Status.COMMITTED
    assert Device.objects.get().hostname == "WS-1"
    with connection.cursor() as cur:
        constraints = connection.introspection.get_constraints(cur, "opportunities_device")
    assert constraints["device_hostname_idx"]["columns"] == ["hostname"]
    assert prepared_tables() == []


@pytest.mark.django_db
def test_imported_devices_are_mapped_by_the_rules_at_once(acme):
    product = ProductFactory(sku="MS-WS")
    rule = DeviceRuleFactory(device_type="workstation", product=product)
    lab = DeviceRuleFactory(device_type="", hostname_pattern="LAB-*", product=None, exclude=True, priority=1)
    commit_import(
        imp=upload(
            HEADER + "d-1,RMM-1,WS-1,workstation,,\r\nd-2,RMM-1,SW-1,network,,\r\nd-3,RMM-1,LAB-1,workstation,,\r\n"
        ),
        queue_detection=False,
    )
    mapped = {
        d: (p, r, x)
        for d, p, r, x in Device.objects.values_list("device_id", "mapped_product_id", "mapping_rule_id", "excluded")
    }
    assert mapped == {"d-1": (product.pk, rule.pk, False), "d-2": (None, None, False), "d-3": (None, lab.pk, True)}


@pytest.mark.django_db
def test_a_rule_changed_after_the_preview_is_applied_at_commit(acme):
    product = ProductFactory(sku="MS-WS")
    imp = validate_import(imp=upload(HEADER + "d-1,RMM-1,WS-1,workstation,,\r\n"))
    rule = DeviceRuleFactory(device_type="workstation", product=product)  # after the preview
    assert not imports_pg.is_prepared(imp)
    assert commit_import(imp=imp, queue_detection=False).status == SourceImport.Status.COMMITTED
    assert Device.objects.get().mapping_rule_id == rule.pk


@pytest.mark.django_db
def test_a_preview_keeps_its_table_until_commit_or_discard(acme):
    DeviceFactory(client=acme, device_id="old")
    imp = validate_import(imp=upload(HEADER + "d-1,RMM-1,WS-1,workstation,,\r\n"))
    assert prepared_tables() == [f"opportunities_device_next_{imp.pk}"]
    assert list(Device.objects.values_list("device_id", flat=True)) == ["old"]  # nothing live changed
    discard_import(imp=imp)
    assert prepared_tables() == []


@pytest.mark.django_db
def test_a_commit_after_another_import_went_live_compares_with_that_one(acme):
    first = validate_import(imp=upload(HEADER + "d-1,RMM-1,WS-1,workstation,,\r\n"))
    other = validate_import(imp=upload(HEADER + "d-2,RMM-1,WS-2,server,,\r\nd-3,RMM-1,WS-3,server,,\r\n"))
    assert commit_import(imp=other).status == SourceImport.Status.COMMITTED
    assert prepared_tables() == []  # the other preview was compared with the old snapshot: dropped
    first = commit_import(imp=first)
    assert first.status == SourceImport.Status.COMMITTED
    assert (first.count_new, first.count_gone) == (1, 2)  # counted against what was live at its commit
    assert list(Device.objects.values_list("device_id", flat=True)) == ["d-1"]


@pytest.mark.django_db
def test_the_nightly_run_drops_previews_nobody_committed(acme):
    import datetime as dt

    from django.utils import timezone

    from opportunities.services.imports import drop_stale_previews
    from opportunities.tasks import detect_nightly

    old = validate_import(imp=upload(HEADER + "d-1,RMM-1,WS-1,workstation,,\r\n"))
    fresh = validate_import(imp=upload(HEADER + "d-2,RMM-1,WS-2,workstation,,\r\n"))
    SourceImport.objects.filter(pk=old.pk).update(uploaded_at=timezone.now() - dt.timedelta(days=2))
    assert drop_stale_previews() == 1
    assert prepared_tables() == [f"opportunities_device_next_{fresh.pk}"]
    # The old preview is still ready: its commit prepares the table again.
    assert SourceImport.objects.get(pk=old.pk).status == SourceImport.Status.READY
    assert commit_import(imp=SourceImport.objects.get(pk=old.pk)).status == SourceImport.Status.COMMITTED
    assert list(Device.objects.values_list("device_id", flat=True)) == ["d-1"]
    # The nightly task does the same (the committed snapshot dropped the fresh one already).
    detect_nightly()
    assert prepared_tables() == []


@pytest.mark.django_db
@pytest.mark.parametrize("counted", [False, True], ids=["live-never-counted", "live-counted"])
def test_a_bad_row_leaves_no_prepared_table(acme, counted):
    if counted:  # the comparison then looks live items up in the new key index, whose build finds the duplicate
        with connection.cursor() as cur:
            cur.execute("ANALYZE opportunities_device")
    imp = validate_import(imp=upload(HEADER + "d-1,RMM-1,WS-1,workstation,,\r\nd-1,RMM-1,WS-2,server,,\r\n"))
    assert imp.status == SourceImport.Status.INVALID
    assert imp.errors == [{"line": 3, "message": 'duplicate id "d-1" (first on line 2)'}]
    assert prepared_tables() == []


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_work_is_shared_between_connections(settings, monkeypatch):
    settings.IMPORT_THREADS = 2
    monkeypatch.setattr(stage, "READ_CHUNK", 256)  # small enough to cut this file in shares
    acme = ClientFactory(name="Acme Ltd", rmm_id="RMM-1")
    DeviceFactory(client=acme, device_id="gone")
    # Quoted cells with line breaks and quotes all through the file: a cut must fall between records.
    rows = "".join(
        f'd-{i},RMM-1,WS-{i},workstation,"Windows\n""11""\nPro",2026-11-20T10:00:00Z\r\n' for i in range(299)
    )
    rows += ' d-299 , RMM-1 ,WS-299 ,workstation,"Windows\n""11""\nPro",2026-11-20T10:00:00Z\r\n'  # padded, in the last share
    imp = create_import(source="devices", uploaded_file=SimpleUploadedFile("rmm.csv", (HEADER + rows).encode()))
    assert len(build._shares(imp, len(HEADER), 2)) == 2
    imp = validate_import(imp=imp)
    assert (imp.status, imp.count_new, imp.count_gone) == (SourceImport.Status.READY, 300, 1)
    assert imports_pg.is_prepared(imp)
    imp = commit_import(imp=imp, queue_detection=False)
    assert imp.status == SourceImport.Status.COMMITTED
    assert Device.objects.count() == 300
    assert set(Device.objects.values_list("os", flat=True)) == {'Windows\n"11"\nPro'}
    assert Device.objects.get(device_id="d-299").hostname == "WS-299"  # each share trims when it needs to
    # A bad row: the full report, with its line, and nothing left behind.
    bad = validate_import(imp=upload(HEADER + rows + "x-1,RMM-NOPE,WS-X,server,,\r\n"))
    assert bad.errors == [{"line": 302, "message": 'unknown client "RMM-NOPE"'}]
    assert prepared_tables() == []


@pytest.mark.django_db(transaction=True)
def test_a_commit_waits_for_readers_and_says_so_when_they_take_too_long(monkeypatch):
    """Nothing changes, the import stays ready and can be committed once the readers are done."""
    monkeypatch.setattr(swap, "LOCK_TIMEOUT", "200ms")
    ClientFactory(name="Acme Ltd", rmm_id="RMM-1")
    imp = validate_import(imp=upload(HEADER + "d-1,RMM-1,WS-1,workstation,,\r\n"))
    reading, done = threading.Event(), threading.Event()

    def reader():
        from django.db import transaction

        try:
            with transaction.atomic():
                list(Device.objects.all())  # holds the table until the transaction ends
                reading.set()
                done.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert reading.wait(10)
        imp = commit_import(imp=imp)
    finally:
        done.set()
        thread.join(10)
    assert imp.status == SourceImport.Status.READY  # the preview still stands
    assert "Commit again in a minute" in imp.message
    assert imports_pg.is_prepared(imp)
    assert not Device.objects.exists()
    assert commit_import(imp=imp).status == SourceImport.Status.COMMITTED  # and it can be committed later
    assert Device.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "rows, padded",
    [
        ("d-1,RMM-1,WS-1,workstation,,\r\n", False),
        ("d-1 ,RMM-1,WS-1,workstation,,\r\n", True),
        ("d-1, RMM-1,WS-1,workstation,,\r\n", True),
        ("d-1,RMM-1,WS-1,workstation,, \r\n", True),
        ('d-1,RMM-1," WS-1",workstation,,\r\n', True),
        ("d-1,RMM-1,WS-1,workstation,Windows 11 Pro,\r\n", False),  # spaces inside a value
    ],
)
def test_cells_are_trimmed_only_when_one_might_need_it(acme, rows, padded):
    imp = upload(HEADER + rows)
    scan = stage._Padding(",")
    for byte in rows.encode():  # fed in any blocks, even one byte at a time
        scan.feed(bytes([byte]))
    assert scan.found is padded
    whole = stage._Padding(",")
    whole.feed(rows.encode())
    assert whole.found is padded
    assert commit_import(imp=imp, queue_detection=False).status == SourceImport.Status.COMMITTED
    device = Device.objects.get()
    assert (device.device_id, device.client_id, device.hostname) == ("d-1", acme.pk, "WS-1")


@pytest.mark.django_db
@pytest.mark.parametrize("live_rows", ["fewer", "more"])
def test_the_counts_are_the_same_whichever_table_the_comparison_walks(acme, monkeypatch, live_rows):
    """Fewer live items than the file's: each live item is looked up in the new table's key index;
    more: the tables are joined whole. Both give the same counts and touched clients."""
    bolt = ClientFactory(name="Bolt plc", rmm_id="RMM-2", psa_id="PSA-2", distributor_id="PAX-2")
    calm = ClientFactory(name="Calm Co", rmm_id="RMM-3", psa_id="PSA-3", distributor_id="PAX-3")
    DeviceFactory(client=acme, device_id="same", hostname="WS-1", device_type="workstation", os="", last_seen=None)
    DeviceFactory(client=acme, device_id="renamed", hostname="WS-2", device_type="workstation", os="", last_seen=None)
    DeviceFactory(client=acme, device_id="moved", hostname="WS-3", device_type="workstation", os="", last_seen=None)
    DeviceFactory(client=calm, device_id="gone-1")
    if live_rows == "more":
        DeviceFactory.create_batch(3, client=calm)  # more gone items: the live table outgrows the file
    with connection.cursor() as cur:
        cur.execute("ANALYZE opportunities_device")  # the planner's count, which picks the way
    walks = []
    real = build._compare_and_index

    def spy(*args):
        jobs = real(*args)
        walks.append("by key" if len(jobs["matched"]) == 2 else "whole")
        return jobs

    monkeypatch.setattr(build, "_compare_and_index", spy)
    imp = validate_import(
        imp=upload(
            HEADER + "same,RMM-1,WS-1,workstation,,\r\n"
            "renamed,RMM-1,WS-2b,workstation,,\r\n"
            "moved,RMM-2,WS-3,workstation,,\r\n"
            "new-1,RMM-1,WS-4,server,,\r\n"
            "new-2,RMM-2,WS-5,server,,\r\n"
            "new-3,RMM-2,WS-6,server,,\r\n"
        )
    )
    assert walks == (["by key"] if live_rows == "fewer" else ["whole"])
    gone = 1 if live_rows == "fewer" else 4
    assert (imp.count_new, imp.count_changed, imp.count_unchanged, imp.count_gone) == (3, 2, 1, gone)
    assert imp.touched_client_ids == sorted([acme.pk, bolt.pk, calm.pk])
    assert sorted(imp.snapshot_clients) == sorted([acme.pk, bolt.pk])


@pytest.mark.django_db
def test_an_unchanged_file_touches_no_client(acme):
    content = HEADER + "d-1,RMM-1,WS-1,workstation,,\r\nd-2,RMM-1,WS-2,server,,\r\n"
    commit_import(imp=upload(content), queue_detection=False)  # live now, and counted by its ANALYZE
    imp = validate_import(imp=upload(content))
    assert (imp.count_new, imp.count_changed, imp.count_unchanged, imp.count_gone) == (0, 0, 2, 0)
    assert imp.touched_client_ids == []
