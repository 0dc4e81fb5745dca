"""Bulk apply and notification views: select mode, preview, confirm twice, progress fragment, bell."""

import pytest
from django.urls import reverse

from billingone.tests.html import element, elements
from opportunities.models import BulkApply, Notification, Severity
from opportunities.services.notifications import notify_new_high_severity
from opportunities.services.selection import selected_ids

from .factories import (
    OpportunityFactory,
    ProductFactory,
    add_line_opportunity,
    billed_line,
    raise_quantity_opportunity,
    select,
)

pytestmark = pytest.mark.django_db


def texts(response):
    return " ".join(response.content.decode().split())


@pytest.fixture
def ready_items():
    product = ProductFactory(name="Managed workstation")
    same = [raise_quantity_opportunity(line=billed_line(product=product)) for _ in range(2)]
    other = add_line_opportunity(product=ProductFactory(name="Backup seat"))
    return same, other


SELECT = "/missed-billing/?tab=ready&select=1"


def test_select_mode_disables_incompatible_items_with_the_reason(finance_client, finance, ready_items):
    same, other = ready_items
    select(finance, [same[0]])
    response = finance_client.get(SELECT, HTTP_HX_REQUEST="true")
    assert element(response, "input", id=f"sel-{same[0].pk}", checked=True)
    assert element(response, "input", id=f"sel-{same[1].pk}", checked=False, disabled=False)
    assert element(response, "input", id=f"sel-{other.pk}", value=other.pk, disabled=True)
    assert "Different action: add a contract line" in texts(response)
    assert element(response, "strong", data_testid="selected-count").text == "1 selected"


def test_ticking_is_saved_on_the_server_and_survives_paging(finance_client, finance, ready_items, settings):
    same, _other = ready_items
    url = SELECT + "&page=1"
    response = finance_client.post(url, {"shown": [o.pk for o in same], "ids": [same[1].pk]}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert selected_ids(finance) == [same[1].pk]
    again = finance_client.get(SELECT + "&page=1")
    assert element(again, "input", id=f"sel-{same[1].pk}", checked=True)
    assert element(again, "button", data_testid="bulk-preview", disabled=False)
    # unticking on the page takes it out; ticks on other pages are untouched
    finance_client.post(url, {"shown": [same[1].pk]}, HTTP_HX_REQUEST="true")
    assert selected_ids(finance) == []


def test_the_selection_never_travels_in_a_url(finance_client, finance, ready_items):
    same, _ = ready_items
    select(finance, same)
    page = finance_client.get(SELECT).content.decode()
    assert "ids=" not in page
    form = element(page, "form", id="bulk-select")
    assert form["method"] == "post"
    assert element(page, "button", data_testid="bulk-preview")["formaction"] == "/missed-billing/bulk/"


def test_select_this_page_and_select_all_matching(finance_client, finance, ready_items):
    same, other = ready_items
    shown = [o.pk for o in (*same, other)]
    finance_client.post(SELECT, {"shown": shown, "select_page": "1"})
    assert sorted(selected_ids(finance)) == sorted(o.pk for o in same)  # the odd one cannot join
    finance_client.post(SELECT, {"clear": "1"})
    assert selected_ids(finance) == []
    response = finance_client.post(SELECT, {"select_matching": "1"}, follow=True)
    assert response.status_code == 200 and sorted(selected_ids(finance)) == sorted(o.pk for o in same)


def test_the_limit_is_one_and_said_clearly(finance_client, finance, ready_items, monkeypatch):
    from opportunities.services import selection

    same, _ = ready_items
    monkeypatch.setattr(selection, "MAX_ITEMS", 1)
    response = finance_client.post(SELECT, {"shown": [o.pk for o in same], "ids": [o.pk for o in same]})
    assert element(response, "p", data_testid="selection-message").text.startswith("A bulk apply takes at most 1 items")
    assert selected_ids(finance) == []
    response = finance_client.post(SELECT, {"select_matching": "1"})
    assert "Selected the first 1" in texts(response) and len(selected_ids(finance)) == 1


def test_a_viewer_has_no_select_mode_no_checkboxes_and_cannot_preview(viewer_client, viewer, ready_items):
    same, _ = ready_items
    assert "Select for bulk apply" not in texts(viewer_client.get("/missed-billing/?tab=ready"))
    page = viewer_client.get(SELECT)
    assert page.status_code == 200 and elements(page, "input", name="ids") == []
    assert viewer_client.post(SELECT, {"shown": [same[0].pk], "ids": [same[0].pk]}).status_code == 403
    assert viewer_client.get("/missed-billing/bulk/").status_code == 403
    assert viewer_client.post("/missed-billing/bulk/", select(viewer, same)).status_code == 403


def test_preview_by_post_then_confirm_twice_is_one_bulk_apply(
    finance_client, finance, ready_items, django_capture_on_commit_callbacks, celery_eager
):
    same, other = ready_items
    shown = [same[0].pk, same[1].pk, other.pk]
    preview = finance_client.post("/missed-billing/bulk/", {"shown": shown, "ids": [same[0].pk, same[1].pk]})
    html = texts(preview)
    assert preview.status_code == 200 and "2 items will be applied" in html
    said = element(preview, "p", data_testid="bulk-effective").text
    assert said.startswith("Each item takes effect from its own default date: the first day of the first month not yet")
    form = {"key": preview.context["key"], "token": preview.context["token"]}
    with django_capture_on_commit_callbacks(execute=True):
        first = finance_client.post("/missed-billing/bulk/", form)
    second = finance_client.post("/missed-billing/bulk/", form, follow=True)
    assert BulkApply.objects.count() == 1
    bulk = BulkApply.objects.get()
    assert first["Location"] == reverse("opportunities:bulk_progress", args=[bulk.pk])
    assert "already submitted" in texts(second)
    assert selected_ids(finance) == []  # a confirmed selection is done with
    progress = finance_client.get(first["Location"], HTTP_HX_REQUEST="true")
    html = texts(progress)
    assert "Finished:</strong> 2 applied, 0 not applied, of 2" in html and "every 1s" not in html


def test_the_preview_leaves_out_what_cannot_go_together(finance_client, finance, ready_items):
    same, other = ready_items
    select(finance, [*same, other])
    html = texts(finance_client.get("/missed-billing/bulk/"))
    assert "2 items will be applied" in html and "Left out (1)" in html


def test_a_selection_changed_after_the_preview_is_not_applied_unseen(finance_client, finance, ready_items):
    same, _ = ready_items
    form = select(finance, [same[0]])
    select(finance, [same[1]])  # ticked in another tab after the preview
    response = finance_client.post("/missed-billing/bulk/", form, follow=True)
    assert "The selection changed after this preview" in texts(response)
    assert not BulkApply.objects.exists()


def test_progress_fragment_polls_while_running(finance_client, ready_items, finance):
    same, _ = ready_items
    bulk = BulkApply.objects.create(idempotency_key="x", created_by=finance)
    bulk.items.create(opportunity=same[0])
    html = texts(finance_client.get(reverse("opportunities:bulk_progress", args=[bulk.pk]), HTTP_HX_REQUEST="true"))
    assert 'hx-trigger="every 1s"' in html and "0 of 1 done" in html


@pytest.mark.parametrize("shown", [["abc"], ["1" * 30]])
def test_garbage_item_numbers_are_refused_and_change_nothing(finance_client, finance, ready_items, shown):
    select(finance, [ready_items[0][0]])
    response = finance_client.post(SELECT, {"shown": shown, "ids": shown})
    assert "is not an item number" in element(response, "p", data_testid="selection-message").text
    assert selected_ids(finance) == [ready_items[0][0].pk]


def test_ids_in_the_address_are_not_used(finance_client, ready_items):
    response = finance_client.get(f"/missed-billing/bulk/?ids={ready_items[0][0].pk}", follow=True)
    assert "Item numbers in the address are not used" in texts(response)


def test_bell_shows_unread_and_opening_marks_read(finance_client, finance):
    opp = OpportunityFactory(severity=Severity.HIGH, description="Servers not billed")
    notify_new_high_severity(opportunity_ids=[opp.pk])
    html = texts(finance_client.get("/missed-billing/notifications/"))
    assert 'data-testid="unread-count">1<' in html and "Servers not billed" in html
    note = Notification.objects.get(user=finance)
    response = finance_client.post(reverse("opportunities:notification_open", args=[note.pk]))
    assert response["Location"] == opp.get_absolute_url()
    assert 'data-testid="unread-count"' not in texts(finance_client.get("/missed-billing/notifications/"))


def test_someone_elses_notification_is_404(viewer_client, finance):
    opp = OpportunityFactory(severity=Severity.HIGH)
    notify_new_high_severity(opportunity_ids=[opp.pk])
    note = Notification.objects.get(user=finance)
    assert viewer_client.post(reverse("opportunities:notification_open", args=[note.pk])).status_code == 404


def test_select_mode_runs_a_fixed_number_of_queries(finance_client, finance, django_assert_num_queries):
    product = ProductFactory()
    items = [raise_quantity_opportunity(line=billed_line(product=product)) for _ in range(3)]
    select(finance, items[:2])
    finance_client.get(SELECT)  # warm the session
    # session, user, permissions (two), tab counts, the page's rows with their products, the
    # selection, the item the others must match, the latest detection run, unread notifications
    with django_assert_num_queries(10):
        assert finance_client.get(SELECT).status_code == 200
    more = [raise_quantity_opportunity(line=billed_line(product=ProductFactory())) for _ in range(55)]
    select(finance, more[:40])
    with django_assert_num_queries(10):
        assert finance_client.get(SELECT + "&page=2").status_code == 200


def test_the_confirmation_takes_one_date_for_every_item_and_shows_it(
    finance_client, finance, ready_items, django_capture_on_commit_callbacks, celery_eager
):
    same, _ = ready_items
    form = select(finance, same)
    preview = finance_client.get("/missed-billing/bulk/")
    field = element(preview, "input", data_testid="bulk-effective-on")
    assert (field["type"], field.get("value")) == ("date", None)  # empty: each item its own default
    with django_capture_on_commit_callbacks(execute=True):
        response = finance_client.post("/missed-billing/bulk/", form | {"effective_on": "2026-03-01"})
    bulk = BulkApply.objects.get()
    assert response.status_code == 302 and bulk.effective_on.isoformat() == "2026-03-01"
    page = finance_client.get(reverse("opportunities:bulk_progress", args=[bulk.pk]))
    assert element(page, "p", data_testid="bulk-takes-effect").text == "Every item takes effect on 1 Mar 2026."
    assert "2 applied, 0 not applied, of 2" in texts(page)


def test_a_bad_bulk_date_is_refused_with_a_message_and_queues_nothing(finance_client, finance, ready_items):
    same, _ = ready_items
    form = select(finance, same)
    response = finance_client.post("/missed-billing/bulk/", form | {"effective_on": "1 March"})
    assert response.status_code == 400
    error = element(response, "div", data_testid="bulk-error")
    assert [p.text for p in elements(error, "p")] == [
        "That is not a date: use the date picker (YYYY-MM-DD).",
        "Nothing was applied.",
    ]
    assert element(response, "input", name="key")["value"] == form["key"]  # the same preview, to send again
    assert not BulkApply.objects.exists()
    assert sorted(selected_ids(finance)) == sorted(o.pk for o in same)  # the selection stays


def test_the_progress_page_says_each_item_uses_its_own_default_without_a_date(finance_client, ready_items, finance):
    bulk = BulkApply.objects.create(idempotency_key="y", created_by=finance)
    page = finance_client.get(reverse("opportunities:bulk_progress", args=[bulk.pk]))
    said = element(page, "p", data_testid="bulk-takes-effect").text
    assert said.startswith("Each item takes effect from its own default date: the first day of the first month")
