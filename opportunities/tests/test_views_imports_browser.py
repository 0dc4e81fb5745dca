"""In a real browser: an Admin uploads an RMM export, reads the preview, commits it."""

import pytest

from opportunities.models import Device, Opportunity

from .factories import ClientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def eager(celery_eager):
    # The detection a commit queues runs inline (no broker needed, none written to disk).
    return celery_eager


def test_an_admin_imports_devices_through_the_pages(page, login, admin_user, tmp_path, settings, eager):
    settings.MEDIA_ROOT = tmp_path / "media"
    ClientFactory(name="Acme Ltd", rmm_id="RMM-1")
    export = tmp_path / "ninja.csv"
    export.write_bytes(
        "\ufeffDevice ID,Organization,Hostname,Device Type,OS,Last Contact\r\n"
        "d-1,Acme Ltd,ACME-WS001,Workstation,Windows 11 Pro,2026-11-20T10:00:00Z\r\n".encode()
    )
    login(page, "ada", "pw-ada")
    page.get_by_role("link", name="Imports").click()
    page.select_option("#id_source", "devices")
    page.set_input_files("#id_file", str(export))
    page.get_by_role("button", name="Upload and check").click()
    page.get_by_text("Ready to commit").wait_for()
    assert "1 new, 0 changed, 0 gone" in page.content()
    page.get_by_role("button", name="Commit import").click()
    page.get_by_text("Committed", exact=True).wait_for()
    assert list(Device.objects.values_list("hostname", flat=True)) == ["ACME-WS001"]
    assert Opportunity.objects.get().source_key == "device_type:workstation"  # no rules yet: unmapped


def test_an_admin_imports_contract_lines_from_a_date_and_the_old_line_is_kept(
    page, login, admin_user, tmp_path, settings, eager
):
    import datetime as dt

    from clients.models import ContractLine

    from .factories import ContractFactory, ContractLineFactory, ProductFactory

    settings.MEDIA_ROOT = tmp_path / "media"
    contract = ContractFactory(client=ClientFactory(name="Acme Ltd", psa_id="PSA-1"), number="AGR-1")
    contract.start_date = dt.date(2026, 1, 1)
    contract.save()
    product = ProductFactory(sku="MS-WS")
    ContractLineFactory(
        contract=contract, product=product, quantity=3, external_id="L-1", start_date=contract.start_date
    )
    export = tmp_path / "psa.csv"
    export.write_text("line_id,client,contract,product_sku,quantity,unit_price\nL-1,PSA-1,AGR-1,MS-WS,5,45.00\n")
    login(page, "ada", "pw-ada")
    page.get_by_role("link", name="Imports").click()
    date = page.get_by_test_id("import-effective-on")
    page.select_option("#id_source", "devices")
    assert not date.is_visible()  # only contract lines take effect from a date
    page.select_option("#id_source", "contract_lines")
    assert date.is_visible()
    page.set_input_files("#id_file", str(export))
    page.get_by_test_id("import-effective-on").fill("2026-11-10")
    page.get_by_role("button", name="Upload and check").click()
    page.get_by_text("Ready to commit").wait_for()
    assert "Changes take effect on" in page.get_by_test_id("import-effective").inner_text()
    assert "10 Nov 2026" in page.get_by_test_id("import-effective").inner_text()
    page.get_by_role("button", name="Commit import").click()
    page.get_by_text("Committed", exact=True).wait_for()
    segments = list(ContractLine.objects.filter(external_id="L-1").order_by("start_date"))
    assert [(s.quantity, s.start_date, s.end_date) for s in segments] == [
        (3, dt.date(2026, 1, 1), dt.date(2026, 11, 9)),
        (5, dt.date(2026, 11, 10), None),
    ]
