"""Mapping rules, thresholds and detection-run pages: who may see and do what, and what they show."""

import csv
import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from opportunities.models import DetectionRun, DetectionSettings, MappingRule
from opportunities.services.detection import run_detection

from .factories import ClientFactory, DeviceFactory, DeviceRuleFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("opportunities:rules", {None: 302, "vera": 403, "fran": 403, "ada": 200}),
        ("opportunities:rule_create", {None: 302, "vera": 403, "fran": 403, "ada": 200}),
        ("opportunities:thresholds", {None: 302, "vera": 403, "fran": 403, "ada": 200}),
        ("opportunities:runs", {None: 302, "vera": 200, "fran": 200, "ada": 200}),
    ],
)
def test_each_role_gets_what_the_spec_allows(client, viewer, finance, admin_user, name, expected):
    users = {"vera": viewer, "fran": finance, "ada": admin_user}
    for who, status in expected.items():
        client.logout()
        if who:
            client.force_login(users[who])
        assert client.get(reverse(name)).status_code == status, who


def test_the_rules_page_shows_match_counts_and_unmapped_items_in_fixed_queries(
    admin_client_, django_assert_num_queries
):
    acme = ClientFactory(name="Acme Ltd")
    ws = ProductFactory(name="Managed workstation")
    DeviceRuleFactory(product=ws)
    for _ in range(3):
        DeviceFactory(client=acme)
    DeviceFactory(client=acme, device_type="server")
    SubscriptionFactory(client=acme, vendor_sku="MYSTERY-1", product_name="Mystery licence", quantity=4)
    run_detection(trigger=DetectionRun.Trigger.COMMAND)
    DetectionSettings.current()
    # session, user, user permissions, group permissions, rules with client/products, device counts,
    # subscription counts, unmapped devices, unmapped subscriptions, thresholds
    # (no migration rules here, so no query for the lines they match), the header bell's unread count
    with django_assert_num_queries(11):
        response = admin_client_.get(reverse("opportunities:rules"))
    html = response.content.decode()
    assert "Managed workstation" in html
    assert '<td class="num">3</td>' in html
    assert "server devices" in html and "MYSTERY-1" in html
    assert "?kind=subscription&amp;vendor_sku=MYSTERY-1" in html


def test_create_rule_from_an_unmapped_item_is_prefilled(admin_client_):
    response = admin_client_.get(reverse("opportunities:rule_create") + "?kind=device&device_type=server")
    form = response.context["form"]
    assert form.initial == {"kind": "device", "device_type": "server"}


def test_an_admin_creates_a_rule_and_bad_input_is_refused_with_a_message(admin_client_, admin_user):
    product = ProductFactory()
    url = reverse("opportunities:rule_create")
    response = admin_client_.post(url, {"kind": "subscription", "priority": 100, "active": "on"})
    assert response.status_code == 200
    assert "A subscription rule needs the distributor SKU." in response.content.decode()
    assert not MappingRule.objects.exists()
    response = admin_client_.post(
        url, {"kind": "subscription", "priority": 100, "vendor_sku": " cfq7 ", "product": product.pk, "active": "on"}
    )
    assert response.status_code == 302
    rule = MappingRule.objects.get()
    assert (rule.vendor_sku, rule.product, rule.created_by) == ("CFQ7", product, admin_user)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("not_seen_days", 800000, "between 1 and 3,650 days"), ("priority", 10**9, "Priority: at most 1,000,000")],
)
def test_a_rule_with_an_absurd_number_is_refused_and_detection_keeps_working(admin_client_, field, value, message):
    product = ProductFactory()
    data = {"kind": "device", "device_type": "workstation", "priority": 100, "product": product.pk, "active": "on"}
    response = admin_client_.post(reverse("opportunities:rule_create"), data | {field: value})
    assert message in response.content.decode()
    assert not MappingRule.objects.exists()
    DeviceFactory()
    assert run_detection(trigger=DetectionRun.Trigger.COMMAND).status == "succeeded"


def test_detection_reads_a_rule_stored_before_the_bounds_as_the_longest_window():
    from django.utils import timezone

    from opportunities.services.rules import RuleBook

    rule = DeviceRuleFactory(not_seen_days=30)
    book = RuleBook()
    book.by_id[rule.pk] = dataclasses.replace(book.by_id[rule.pk], not_seen_days=800000)  # an older database's row
    sql, params = book.device_case([rule.client_id])
    assert "last_seen" in sql and str(params[-1]) < str(timezone.now().year - 9)  # ten years back, no overflow


def test_an_admin_edits_and_deletes_a_rule_delete_is_post_only(admin_client_):
    rule = DeviceRuleFactory()
    edit = reverse("opportunities:rule_edit", args=[rule.pk])
    data = {"kind": "device", "device_type": "server", "priority": 5, "product": rule.product_id, "active": "on"}
    assert admin_client_.post(edit, data).status_code == 302
    rule.refresh_from_db()
    assert (rule.device_type, rule.priority) == ("server", 5)
    delete = reverse("opportunities:rule_delete", args=[rule.pk])
    assert admin_client_.get(delete).status_code == 405
    assert admin_client_.post(delete).status_code == 302
    assert not MappingRule.objects.exists()
    assert admin_client_.post(reverse("opportunities:rule_edit", args=[999])).status_code == 404


def test_finance_cannot_change_rules(finance_client):
    rule = DeviceRuleFactory()
    assert finance_client.post(reverse("opportunities:rule_delete", args=[rule.pk])).status_code == 403
    assert MappingRule.objects.exists()


def test_thresholds_are_saved_and_bad_ones_refused(admin_client_):
    url = reverse("opportunities:thresholds")
    response = admin_client_.post(url, {"high_threshold": "50", "medium_threshold": "100"})
    assert response.status_code == 400
    assert "at least the medium threshold" in response.content.decode()
    assert admin_client_.post(url, {"high_threshold": "abc", "medium_threshold": "1"}).status_code == 400
    assert admin_client_.post(url, {"high_threshold": "800", "medium_threshold": "200"}).status_code == 302
    assert DetectionSettings.current().high_threshold == Decimal("800.00")


def test_the_runs_page_warns_when_a_run_examined_nothing(viewer_client, django_assert_num_queries):
    run_detection(trigger=DetectionRun.Trigger.COMMAND)
    # session, user, user permissions, group permissions, run count, runs with who triggered them,
    # the header bell's unread count
    with django_assert_num_queries(7):
        response = viewer_client.get(reverse("opportunities:runs"))
    html = response.content.decode()
    assert "Examined nothing" in html
    assert "Run detection now" not in html


def test_the_runs_table_is_a_fragment_for_htmx(viewer_client):
    response = viewer_client.get(reverse("opportunities:runs"), HTTP_HX_REQUEST="true")
    assert response.content.decode().lstrip().startswith('<div id="run-table">')


def test_an_admin_runs_detection_now(admin_client_, django_capture_on_commit_callbacks, celery_eager):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(reverse("opportunities:run_detection"))
    assert response.status_code == 302
    run = DetectionRun.objects.get()
    assert (run.trigger, run.status) == ("manual", "succeeded")


def test_a_viewer_cannot_start_a_run(viewer_client):
    assert viewer_client.post(reverse("opportunities:run_detection")).status_code == 403
    assert viewer_client.get(reverse("opportunities:run_detection")).status_code == 405
    assert not DetectionRun.objects.exists()


def test_admins_see_the_admin_nav_links_and_viewers_do_not(admin_client_, client, viewer):
    html = admin_client_.get(reverse("opportunities:runs")).content.decode()
    assert reverse("opportunities:rules") in html and reverse("opportunities:imports") in html
    client.force_login(viewer)
    html = client.get(reverse("opportunities:runs")).content.decode()
    assert reverse("opportunities:rules") not in html and reverse("opportunities:imports") not in html


def test_the_queue_never_shows_a_run_that_examined_nothing_as_a_clean_bill_of_health(viewer_client):
    run_detection(trigger=DetectionRun.Trigger.COMMAND)
    html = viewer_client.get(reverse("opportunities:queue")).content.decode()
    assert "No data was examined" in html
    DeviceFactory()
    run_detection(trigger=DetectionRun.Trigger.COMMAND)
    html = viewer_client.get(reverse("opportunities:queue")).content.decode()
    assert "examined 1 devices" in html and "No data was examined" not in html
    assert reverse("opportunities:runs") in html


def _csv_rows(response):
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")  # Excel reads the names as UTF-8
    return list(csv.reader(body[1:].splitlines()))


def test_every_unmapped_device_downloads_as_csv_with_formula_cells_as_text(admin_client_, django_assert_num_queries):
    acme = ClientFactory(name="Acme Ltd", rmm_id="RMM-7")
    DeviceRuleFactory(product=ProductFactory(name="Managed workstation"))  # maps the workstations
    DeviceFactory(client=acme, device_id="d-1", device_type="workstation")
    DeviceFactory(
        client=acme,
        device_id="d-2",
        hostname='=HYPERLINK("http://x")',
        device_type="server",
        os="+SUM(1)",
        last_seen=dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC),
    )
    for number in range(3, 63):  # more than the page shows
        DeviceFactory(client=acme, device_id=f"d-{number:02}", device_type="network")
    run_detection(trigger=DetectionRun.Trigger.COMMAND)
    # session, user, user permissions, group permissions, the devices (one query, streamed)
    with django_assert_num_queries(5):
        response = admin_client_.get(reverse("opportunities:unmapped_csv", args=["devices"]))
        rows = _csv_rows(response)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="unmapped-devices-')
    assert rows[0] == ["Client", "Client RMM id", "Device id", "Hostname", "Device type", "OS", "Last seen"]
    assert len(rows) == 1 + 61  # every unmapped device; the mapped workstation is not one
    server = next(row for row in rows if row[2] == "d-2")
    # A cell a spreadsheet would evaluate is text; the time is the organisation's (London, GMT here).
    assert server == ["Acme Ltd", "RMM-7", "d-2", '\'=HYPERLINK("http://x")', "server", "'+SUM(1)", "2026-11-30 23:30"]


def test_unmapped_subscriptions_download_and_an_unknown_list_is_not_found(admin_client_):
    acme = ClientFactory(name="Acme Ltd", distributor_id="PAX-1")
    SubscriptionFactory(
        client=acme, subscription_id="s-1", vendor_sku="MYSTERY-1", product_name="@mystery", quantity=4, term="annual"
    )
    run_detection(trigger=DetectionRun.Trigger.COMMAND)
    rows = _csv_rows(admin_client_.get(reverse("opportunities:unmapped_csv", args=["subscriptions"])))
    assert rows == [
        ["Client", "Client distributor id", "Subscription id", "Vendor SKU", "Product name", "Quantity", "Term"],
        ["Acme Ltd", "PAX-1", "s-1", "MYSTERY-1", "'@mystery", "4", "annual"],
    ]
    unknown = reverse("opportunities:unmapped_csv", args=["devices"]).replace("devices", "contracts")
    assert admin_client_.get(unknown).status_code == 404
    assert admin_client_.post(reverse("opportunities:unmapped_csv", args=["devices"])).status_code == 405
    page = admin_client_.get(reverse("opportunities:rules")).content.decode()
    assert reverse("opportunities:unmapped_csv", args=["subscriptions"]) in page


def test_finance_and_viewers_cannot_download_unmapped_items(finance_client, viewer_client):
    url = reverse("opportunities:unmapped_csv", args=["devices"])
    assert finance_client.get(url).status_code == 403
    assert viewer_client.get(url).status_code == 403
