"""Bulk apply and notification views: select mode, preview, confirm twice, progress fragment, bell."""

import pytest
from django.urls import reverse

from billingone.tests.html import element
from opportunities.models import BulkApply, Notification, Severity
from opportunities.services.notifications import notify_new_high_severity

from .factories import (
    OpportunityFactory,
    ProductFactory,
    add_line_opportunity,
    billed_line,
    raise_quantity_opportunity,
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


def test_select_mode_disables_incompatible_items_with_the_reason(finance_client, ready_items):
    same, other = ready_items
    response = finance_client.get(f"/missed-billing/?tab=ready&select=1&ids={same[0].pk}", HTTP_HX_REQUEST="true")
    html = texts(response)
    assert f'id="sel-{same[1].pk}"' in html
    assert element(response, "input", id=f"sel-{other.pk}", value=other.pk, disabled=True)
    assert "Different action: add a contract line" in html
    assert "Preview bulk apply (1 selected)" in html


def test_viewer_has_no_select_mode_and_cannot_preview(viewer_client, ready_items):
    same, _ = ready_items
    assert "Select for bulk apply" not in texts(viewer_client.get("/missed-billing/?tab=ready"))
    assert viewer_client.get(f"/missed-billing/bulk/?ids={same[0].pk}").status_code == 403
    assert viewer_client.post("/missed-billing/bulk/", {"ids": [same[0].pk], "key": "k"}).status_code == 403


def test_preview_then_confirm_twice_is_one_bulk_apply(
    finance_client, ready_items, django_capture_on_commit_callbacks, celery_eager
):
    same, other = ready_items
    ids = [same[0].pk, same[1].pk, other.pk]
    preview = finance_client.get("/missed-billing/bulk/", {"ids": ids})
    html = texts(preview)
    assert preview.status_code == 200 and "2 items will be applied" in html and "Left out (1)" in html
    key = preview.context["key"]
    with django_capture_on_commit_callbacks(execute=True):
        first = finance_client.post("/missed-billing/bulk/", {"ids": ids, "key": key})
    second = finance_client.post("/missed-billing/bulk/", {"ids": ids, "key": key}, follow=True)
    assert BulkApply.objects.count() == 1
    bulk = BulkApply.objects.get()
    assert first["Location"] == reverse("opportunities:bulk_progress", args=[bulk.pk])
    assert "already submitted" in texts(second)
    progress = finance_client.get(first["Location"], HTTP_HX_REQUEST="true")
    html = texts(progress)
    assert "Finished:</strong> 2 applied, 0 not applied, of 2" in html and "every 1s" not in html


def test_progress_fragment_polls_while_running(finance_client, ready_items, finance):
    same, _ = ready_items
    bulk = BulkApply.objects.create(idempotency_key="x", created_by=finance)
    bulk.items.create(opportunity=same[0])
    html = texts(finance_client.get(reverse("opportunities:bulk_progress", args=[bulk.pk]), HTTP_HX_REQUEST="true"))
    assert 'hx-trigger="every 1s"' in html and "0 of 1 done" in html


def test_preview_with_garbage_ids_is_a_400(finance_client):
    response = finance_client.get("/missed-billing/bulk/?ids=abc")
    assert response.status_code == 400 and "not an item number" in texts(response)


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
