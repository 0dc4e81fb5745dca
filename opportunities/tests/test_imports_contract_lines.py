"""The contract-lines import takes effect from a date: history is kept, every write is the dated services'."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from clients.dates import org_today
from clients.models import ContractChange, ContractLine
from clients.services import change_contract_line
from opportunities.models import SourceImport
from opportunities.selectors import summary_counts
from opportunities.services.imports import (
    ImportRejectedError,
    commit_import,
    contract_lines,
    create_import,
    default_effective_date,
    validate_import,
)

from .factories import ContractFactory, ContractLineFactory, ProductFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

E = dt.date(2026, 7, 1)  # the import's date in these tests
DAY = dt.timedelta(days=1)
HEADER = "line_id,contract,product_sku,quantity,unit_price\n"


def upload(content, *, effective_on=E, actor=None):
    return create_import(
        source="contract_lines",
        uploaded_file=SimpleUploadedFile("psa.csv", (HEADER + content).encode()),
        effective_on=effective_on,
        actor=actor,
    )


def chain(external_id):
    """(start, end, quantity, price) of every segment with this external id, in date order."""
    return list(
        ContractLine.objects.filter(external_id=external_id)
        .order_by("start_date", "id")
        .values_list("start_date", "end_date", "quantity", "unit_price")
    )


def bill(line):
    """An issued invoice that billed ``line`` (what makes it undeletable: ``InvoiceLine`` is PROTECT)."""
    from invoices.models import InvoiceLine
    from invoices.tests.factories import billed

    invoice = billed(line.contract.client, "45.00")
    InvoiceLine.objects.filter(invoice=invoice).update(contract_line=line, period=line.start_date.replace(day=1))


@pytest.fixture
def contract(acme):
    return ContractFactory(client=acme, number="AGR-1")  # from 1 Jan 2024, open


@pytest.fixture
def product():
    return ProductFactory(sku="MS-WS", unit_price=Decimal("45.00"))


def line(contract, product, external_id, quantity=3, **kwargs):
    return ContractLineFactory(
        contract=contract,
        product=product,
        quantity=quantity,
        unit_price=Decimal("45.00"),
        external_id=external_id,
        **kwargs,
    )


def test_a_gone_line_an_issued_invoice_billed_is_ended_not_deleted(contract, product):
    kept = line(contract, product, "L-1")
    billed_line = line(contract, product, "L-BILLED")
    bill(billed_line)
    imp = commit_import(imp=upload("L-1,AGR-1,MS-WS,3,45.00\n"))
    assert imp.status == SourceImport.Status.COMMITTED, imp.errors
    assert (imp.count_gone, imp.count_unchanged) == (1, 1)
    assert chain("L-BILLED") == [(contract.start_date, E - DAY, 3, Decimal("45.00"))]
    assert chain("L-1") == [(kept.start_date, None, 3, Decimal("45.00"))]
    change = ContractChange.objects.get(line=billed_line)
    assert (change.action, change.source) == ("ended", "import")
    assert "last day in force 30 Jun 2026" in change.detail
    if org_today() > E - DAY:  # the imports page counts the lines not ended before today
        assert summary_counts()["contract_lines"] == 1


def test_a_gone_line_that_starts_on_the_date_is_removed_unless_billed_then_ended_as_early_as_allowed(contract, product):
    unbilled = line(contract, product, "L-NEW", start_date=E)
    billed_line = line(contract, product, "L-BILLED", start_date=E)
    bill(billed_line)
    changed = line(contract, product, "L-CHANGED")
    later = change_contract_line(changed, quantity=9, effective_on=E)  # a segment from the import's date on
    imp = commit_import(imp=upload("L-0,AGR-1,MS-WS,1,45.00\n"))
    assert imp.status == SourceImport.Status.COMMITTED, imp.errors
    assert imp.count_gone == 3
    assert not ContractLine.objects.filter(pk__in=[unbilled.pk, later.pk]).exists()  # never in force before E
    assert chain("L-BILLED") == [(E, E, 3, Decimal("45.00"))]  # billed: its first day is the earliest end
    assert chain("L-CHANGED") == [(contract.start_date, E - DAY, 3, Decimal("45.00"))]


def test_a_change_on_the_segments_own_first_day_edits_it_in_place(contract, product):
    segment = line(contract, product, "L-1", start_date=E)
    imp = commit_import(imp=upload("L-1,AGR-1,MS-WS,7,45.00\n"))
    assert (imp.status, imp.count_changed) == ("committed", 1)
    assert chain("L-1") == [(E, None, 7, Decimal("45.00"))]
    assert ContractLine.objects.get(external_id="L-1").pk == segment.pk


def test_a_change_entered_for_a_later_date_stays(contract, product):
    first = line(contract, product, "L-1")
    change_contract_line(first, quantity=20, effective_on=dt.date(2026, 9, 1))
    imp = commit_import(imp=upload("L-1,AGR-1,MS-WS,5,45.00\n"))
    assert (imp.status, imp.count_changed) == ("committed", 1), imp.errors
    assert chain("L-1") == [
        (contract.start_date, E - DAY, 3, Decimal("45.00")),
        (E, dt.date(2026, 8, 31), 5, Decimal("45.00")),
        (dt.date(2026, 9, 1), None, 20, Decimal("45.00")),
    ]


def test_reimporting_the_same_file_on_the_same_date_changes_nothing(contract, product):
    line(contract, product, "L-1")
    line(contract, product, "L-GONE")
    late = ContractFactory(client=contract.client, number="AGR-LATE", start_date=dt.date(2026, 10, 1))
    content = "L-1,AGR-1,MS-WS,5,45.00\nL-2,AGR-1,MS-WS,2,40.00\nL-3,AGR-LATE,MS-WS,1,45.00\n"
    first = commit_import(imp=upload(content))
    assert (first.count_new, first.count_changed, first.count_gone) == (2, 1, 1), first.errors
    assert chain("L-3") == [(late.start_date, None, 1, Decimal("45.00"))]  # from its contract's start
    recorded = ContractChange.objects.count()
    again = commit_import(imp=upload(content))
    assert again.status == SourceImport.Status.COMMITTED, again.errors
    assert (again.count_new, again.count_changed, again.count_gone, again.count_unchanged) == (0, 0, 0, 3)
    assert ContractChange.objects.count() == recorded


def test_a_line_that_starts_after_the_date_is_a_row_error_and_nothing_changes(contract, product):
    line(contract, product, "L-LATER", start_date=dt.date(2026, 9, 1))
    gone = line(contract, product, "L-GONE")
    imp = commit_import(imp=upload("L-OK,AGR-1,MS-WS,1,45.00\nL-LATER,AGR-1,MS-WS,3,45.00\n"))
    assert imp.status == SourceImport.Status.INVALID
    assert [(e["line"], e["message"]) for e in imp.errors] == [
        (
            3,
            'line "L-LATER" starts on 1 Sep 2026, after this import takes effect (1 Jul 2026): import the file '
            "from that date, or change the line on the client's page",
        )
    ]
    assert not ContractLine.objects.filter(external_id="L-OK").exists()
    gone.refresh_from_db()
    assert gone.end_date is None


def test_a_new_line_on_a_contract_that_ends_before_the_date_is_a_row_error(acme, product):
    ContractFactory(client=acme, number="AGR-OLD", end_date=dt.date(2026, 3, 31))
    imp = validate_import(imp=upload("L-1,AGR-OLD,MS-WS,1,45.00\n"))
    assert imp.errors == [
        {"line": 2, "message": 'contract "AGR-OLD" ends on 31 Mar 2026, before this import takes effect (1 Jul 2026)'}
    ]


def test_a_line_moved_to_another_contract_ends_on_the_old_and_starts_on_the_new(contract, product):
    old = line(contract, product, "L-1")
    ContractFactory(client=contract.client, number="AGR-2")
    imp = commit_import(imp=upload("L-1,AGR-2,MS-WS,3,45.00\n"))
    assert (imp.status, imp.count_new, imp.count_gone) == ("committed", 1, 1), imp.errors
    old.refresh_from_db()
    assert old.end_date == E - DAY
    moved = ContractLine.objects.get(external_id="L-1", end_date__isnull=True)
    assert (moved.contract.number, moved.start_date) == ("AGR-2", E)


def test_a_refusal_from_a_service_makes_the_import_invalid_and_changes_nothing(contract, product, monkeypatch):
    from django.core.exceptions import ValidationError

    gone = line(contract, product, "L-GONE")
    line(contract, product, "L-1")

    def refuse(*args, **kwargs):
        raise ValidationError("The line is not in force on 1 Jul 2026.")

    monkeypatch.setattr(contract_lines, "change_contract_line", refuse)
    imp = commit_import(imp=upload("L-1,AGR-1,MS-WS,5,45.00\nL-2,AGR-1,MS-WS,1,45.00\n"))
    assert imp.status == SourceImport.Status.INVALID
    assert imp.errors == [{"line": 2, "message": 'line "L-1": The line is not in force on 1 Jul 2026.'}]
    assert (imp.count_new, imp.count_changed, imp.count_gone) == (0, 0, 0)
    gone.refresh_from_db()
    assert gone.end_date is None  # the end already written rolled back with the rest
    assert not ContractLine.objects.filter(external_id="L-2").exists()
    assert not ContractChange.objects.exists()


def test_the_preview_counts_from_the_date_and_changes_nothing(contract, product):
    line(contract, product, "L-1")
    line(contract, product, "L-GONE")
    imp = validate_import(imp=upload("L-1,AGR-1,MS-WS,5,45.00\nL-2,AGR-1,MS-WS,1,45.00\n"))
    assert (imp.status, imp.count_new, imp.count_changed, imp.count_gone) == ("ready", 1, 1, 1)
    assert ContractLine.objects.count() == 2 and not ContractChange.objects.exists()


def test_unchanged_lines_cost_no_query_each(contract, product, django_assert_num_queries):
    for i in range(30):
        line(contract, product, f"L-{i}")
    few = upload("".join(f"L-{i},AGR-1,MS-WS,3,45.00\n" for i in range(3)))
    many = upload("".join(f"L-{i},AGR-1,MS-WS,3,45.00\n" for i in range(30)))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for imp in (few, many):
        with CaptureQueriesContext(connection) as queries:
            validate_import(imp=imp)
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_date_defaults_to_the_first_of_this_month_and_only_contract_lines_take_one(contract):
    imp = create_import(source="contract_lines", uploaded_file=SimpleUploadedFile("a.csv", HEADER.encode()))
    assert imp.effective_on == default_effective_date() and imp.effective_on.day == 1
    with pytest.raises(ImportRejectedError, match="more than a year ahead"):
        upload("L-1,AGR-1,MS-WS,1,45.00\n", effective_on=dt.date.today() + dt.timedelta(days=400))
    with pytest.raises(ImportRejectedError, match="Only a contract-lines import"):
        create_import(source="devices", uploaded_file=SimpleUploadedFile("d.csv", b"x"), effective_on=E)


def test_the_command_takes_the_date(contract, product, tmp_path, capsys):
    line(contract, product, "L-GONE")
    path = tmp_path / "psa.csv"
    path.write_text(HEADER + "L-1,AGR-1,MS-WS,1,45.00\n")
    call_command("import_csv", "contract_lines", str(path), "--effective-on", "2026-07-01")
    assert "taking effect on 2026-07-01: 1 new, 0 changed, 1 gone" in capsys.readouterr().out
    assert chain("L-GONE")[0][1] == E - DAY and chain("L-1")[0][0] == E
    with pytest.raises(CommandError, match="not a date"):
        call_command("import_csv", "contract_lines", str(path), "--effective-on", "2026-02-30")
    with pytest.raises(CommandError, match="contract lines only"):
        call_command("import_csv", "devices", str(path), "--effective-on", "2026-07-01")


def test_contract_lines_always_go_through_the_python_engine(contract):
    """The PostgreSQL engine replaces a snapshot table whole: never for contract lines, whose history stays."""
    from opportunities.services.imports import postgres, workflow

    assert "contract_lines" not in postgres.MODELS
    imp = upload("L-1,AGR-1,MS-WS,1,45.00\n")
    assert not workflow._swaps(imp)
