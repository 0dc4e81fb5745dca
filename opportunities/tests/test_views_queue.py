"""Queue, detail and action views: roles, HTMX fragments, query count, bad parameters."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from billingone.tests.html import element, elements
from clients.dates import display_date, org_today
from opportunities.models import OpportunityState, Severity

from .factories import (
    ClientFactory,
    OpportunityFactory,
    detection_run,
    raise_quantity_opportunity,
    segment_on,
    this_month,
)

pytestmark = pytest.mark.django_db
QUEUE = "/missed-billing/"


def texts(response):
    """The page's HTML with runs of whitespace collapsed."""
    return " ".join(response.content.decode().split())


@pytest.fixture
def queue_items():
    acme = ClientFactory(name="Acme Dental")
    bolt = ClientFactory(name="Bolt Logistics")
    return {
        "high": OpportunityFactory(
            client=acme, severity=Severity.HIGH, monthly_impact=Decimal("900.00"), description="Servers not billed"
        ),
        "ready": raise_quantity_opportunity(monthly_impact=Decimal("250.00"), severity=Severity.MEDIUM),
        "low": OpportunityFactory(
            client=bolt, severity=Severity.LOW, monthly_impact=Decimal("20.00"), description="Backup seats short"
        ),
        "snoozed": OpportunityFactory(state=OpportunityState.SNOOZED, snoozed_until=org_today() + dt.timedelta(days=5)),
        "ignored": OpportunityFactory(state=OpportunityState.IGNORED, ignore_reason="Lab"),
    }


def test_anonymous_is_sent_to_login(client):
    response = client.get(QUEUE)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_queue_shows_tabs_counts_summary_and_rows_in_queue_order(viewer_client, queue_items):
    response = viewer_client.get(QUEUE)
    html = texts(response)
    assert response.status_code == 200
    assert element(response, "a", data_tab="all", aria_current="page").text == "Open 3"
    assert 'Ready to apply <span class="count">1</span>' in html
    assert "3 items" in html and "1,170.00" in html
    assert (
        html.index("Servers not billed")
        < html.index(queue_items["ready"].description)
        < html.index("Backup seats short")
    )
    assert "Bulk-ready" in html


def test_tabs_show_their_items(viewer_client, queue_items):
    html = texts(viewer_client.get(QUEUE + "?tab=snoozed"))
    assert queue_items["snoozed"].description in html and "Servers not billed" not in html
    html = texts(viewer_client.get(QUEUE + "?tab=ready"))
    assert queue_items["ready"].description in html and "Servers not billed" not in html


def test_search_matches_client_name_and_description(viewer_client, queue_items):
    html = texts(viewer_client.get(QUEUE + "?q=acme"))
    assert "Servers not billed" in html and "Backup seats short" not in html
    html = texts(viewer_client.get(QUEUE + "?q=backup"))
    assert "Backup seats short" in html and "Servers not billed" not in html
    assert 'data-chip="q"' in html


def test_severity_filter_and_chip(viewer_client, queue_items):
    html = texts(viewer_client.get(QUEUE + "?severity=low"))
    assert "Backup seats short" in html and "Servers not billed" not in html
    assert "Severity: Low" in html


@pytest.mark.parametrize("param", ["client", "clientId"])
def test_deep_link_scoped_to_a_client(viewer_client, queue_items, param):
    acme = queue_items["high"].client
    html = texts(viewer_client.get(f"{QUEUE}?{param}={acme.pk}"))
    assert "Servers not billed" in html and "Backup seats short" not in html
    assert "Client: Acme Dental" in html


@pytest.mark.parametrize(
    "query, message",
    [
        ("client=999999", "There is no client with id 999999."),
        ("clientId=abc", "The client id must be a whole number"),
        ("client=1&clientId=2", "Two different clients were given; choose one."),
        ("tab=bogus", "Select a valid choice"),
        ("severity=urgent", "Select a valid choice"),
    ],
)
def test_bad_parameters_get_a_clear_400(viewer_client, queue_items, query, message):
    response = viewer_client.get(f"{QUEUE}?{query}")
    assert response.status_code == 400
    assert message in texts(response) and "Show the whole queue" in texts(response)


def test_htmx_request_gets_the_list_and_out_of_band_counts(viewer_client, queue_items):
    response = viewer_client.get(QUEUE + "?tab=ready", HTTP_HX_REQUEST="true")
    html = texts(response)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="queue-list">')
    assert element(response, id="queue-tabs", aria_label="Queue tabs", hx_swap_oob="true")
    assert element(response, id="queue-summary", hx_swap_oob="true")
    assert 'id="queue-filters"' in html  # a tab click refreshes the form's hidden tab
    assert "HX-Request" in response["Vary"]


def test_htmx_request_from_the_filter_form_leaves_the_form_alone(viewer_client, queue_items):
    response = viewer_client.get(QUEUE + "?q=acme", HTTP_HX_REQUEST="true", HTTP_HX_TRIGGER="queue-filters")
    assert 'id="queue-filters"' not in texts(response)


def test_query_count_is_fixed_whatever_the_page_size(viewer_client, viewer, django_assert_num_queries):
    for i in range(3):
        OpportunityFactory(description=f"item {i}")
    detection_run()
    viewer_client.get(QUEUE)  # warm the session
    # session, user, user permissions, group permissions, tab counts (one grouped query),
    # the page's rows, the latest detection run, the unread-notification count
    with django_assert_num_queries(8):
        assert viewer_client.get(QUEUE).status_code == 200
    for i in range(60):
        OpportunityFactory(description=f"more {i}")
    with django_assert_num_queries(8):
        assert viewer_client.get(QUEUE + "?page=2").status_code == 200


def test_run_summary_that_examined_nothing_is_not_a_clean_bill(viewer_client):
    detection_run(devices_examined=0, subscriptions_examined=0, lines_examined=0)
    assert "No data was examined — import devices and subscriptions" in texts(viewer_client.get(QUEUE))


def test_run_summary_shows_what_was_examined(viewer_client):
    detection_run()
    html = texts(viewer_client.get(QUEUE))
    assert "examined 40 devices, 12 subscriptions and 9 contract lines" in html and "1,234 ms" in html


def test_viewer_sees_detail_without_buttons(viewer_client, queue_items):
    opp = queue_items["ready"]
    response = viewer_client.get(reverse("opportunities:detail", args=[opp.pk]))
    html = texts(response)
    assert response.status_code == 200 and opp.root_cause in html
    assert 'data-testid="actions"' not in html and "Snooze" not in html and "Apply…" not in html


@pytest.mark.parametrize("action", ["snooze", "ignore", "review", "apply", "reopen"])
def test_viewer_post_is_refused(viewer_client, queue_items, action):
    opp = queue_items["ready"]
    response = viewer_client.post(reverse(f"opportunities:{action}", args=[opp.pk]), {"until": "2999-01-01"})
    assert response.status_code == 403
    opp.refresh_from_db()
    assert opp.state == OpportunityState.OPEN


def test_finance_sees_the_buttons_and_the_history(finance_client, queue_items):
    html = texts(finance_client.get(reverse("opportunities:detail", args=[queue_items["ready"].pk])))
    assert 'data-testid="actions"' in html and "Apply…" in html and "Mark reviewed" in html


def test_detail_of_unknown_item_is_404(viewer_client):
    assert viewer_client.get("/missed-billing/999999/").status_code == 404


def test_finance_snoozes_with_a_date(finance_client, queue_items):
    opp = queue_items["high"]
    until = org_today() + dt.timedelta(days=10)
    response = finance_client.post(
        reverse("opportunities:snooze", args=[opp.pk]), {"until": until.isoformat()}, follow=True
    )
    assert f"Snoozed until {display_date(until)}" in texts(response)
    opp.refresh_from_db()
    assert opp.state == OpportunityState.SNOOZED


@pytest.mark.parametrize("value, message", [("2001-01-01", "Choose a date in the future"), ("soon", "is not a date")])
def test_snooze_with_a_bad_date_is_refused(finance_client, queue_items, value, message):
    opp = queue_items["high"]
    response = finance_client.post(reverse("opportunities:snooze", args=[opp.pk]), {"until": value})
    assert response.status_code == 400 and message in texts(response) and "Nothing was changed" in texts(response)
    opp.refresh_from_db()
    assert opp.state == OpportunityState.OPEN


def test_finance_ignores_with_a_reason(finance_client, queue_items):
    opp = queue_items["high"]
    finance_client.post(reverse("opportunities:ignore", args=[opp.pk]), {"reason": "Client pays elsewhere"})
    opp.refresh_from_db()
    assert opp.state == OpportunityState.IGNORED and opp.ignore_reason == "Client pays elsewhere"
    html = texts(finance_client.get(reverse("opportunities:detail", args=[opp.pk])))
    assert "Client pays elsewhere" in html and "by fran" in html


def test_finance_reopens_an_ignored_item_and_it_is_back_in_the_open_tab(finance_client, queue_items):
    opp = queue_items["ignored"]
    detail = finance_client.get(reverse("opportunities:detail", args=[opp.pk]))
    assert element(detail, "button", data_testid="reopen").text == "Reopen"
    response = finance_client.post(reverse("opportunities:reopen", args=[opp.pk]), follow=True)
    assert "Reopened: the item is back in the Open tab." in texts(response)
    assert "Reopened" in element(response, "ol", data_testid="history").text
    opp.refresh_from_db()
    assert opp.state == OpportunityState.OPEN
    assert element(finance_client.get(QUEUE), "a", data_tab="all").text == "Open 4"


def test_viewer_sees_no_reopen_button(viewer_client, queue_items):
    detail = viewer_client.get(reverse("opportunities:detail", args=[queue_items["snoozed"].pk]))
    assert not elements(detail, "button", data_testid="reopen")


def test_reopening_an_open_item_is_refused_with_a_message(finance_client, queue_items):
    response = finance_client.post(reverse("opportunities:reopen", args=[queue_items["high"].pk]))
    assert response.status_code == 400 and "only snoozed, ignored or reviewed items reopen" in texts(response)


def test_apply_confirmation_then_apply(finance_client, queue_items):
    opp = queue_items["ready"]
    url = reverse("opportunities:apply", args=[opp.pk])
    confirm = finance_client.get(url)
    assert confirm.status_code == 200 and "Confirm and apply" in texts(confirm) and "10 → 15" in texts(confirm)
    since = element(confirm, "input", data_testid="effective-on")["value"]
    assert since == this_month().isoformat()  # nothing billed yet: from the first day of this month
    response = finance_client.post(url, {"effective_on": since}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Location"] == opp.get_absolute_url()
    assert segment_on(opp.plan_line).quantity == 15


def test_apply_with_a_changed_line_says_why(finance_client, queue_items):
    opp = queue_items["ready"]
    type(opp.plan_line).objects.filter(pk=opp.plan_line_id).update(quantity=13)
    response = finance_client.post(reverse("opportunities:apply", args=[opp.pk]), {"effective_on": this_month()})
    assert response.status_code == 400
    assert "it is now 13, the plan expected 10" in texts(response)


def test_get_on_an_action_is_not_allowed(finance_client, queue_items):
    assert finance_client.get(reverse("opportunities:snooze", args=[queue_items["high"].pk])).status_code == 405


def test_home_card_shows_open_count_impact_and_ready(viewer_client, queue_items):
    html = texts(viewer_client.get("/"))
    assert 'data-testid="home-open">3<' in html and "1,170.00" in html and "?tab=ready" in html


def test_client_page_has_a_missed_billing_panel(viewer_client, queue_items):
    acme = queue_items["high"].client
    html = texts(viewer_client.get(acme.get_absolute_url()))
    assert "Missed billing" in html and f"/missed-billing/?client={acme.pk}" in html


def test_cached_counts_follow_every_action(viewer_client, finance, settings, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from opportunities.services.actions import ignore_opportunity

    settings.QUEUE_COUNTS_CACHE_SECONDS = 60
    cache.clear()
    opp = OpportunityFactory(description="Firewall licences missing")
    OpportunityFactory()
    assert 'Ignored <span class="count">0</span>' in texts(viewer_client.get(QUEUE))
    assert 'Ignored <span class="count">0</span>' in texts(viewer_client.get(QUEUE + "?q=firewall"))
    with django_capture_on_commit_callbacks(execute=True):
        ignore_opportunity(opportunity=opp, actor=finance)
    html = texts(viewer_client.get(QUEUE))
    assert 'Ignored <span class="count">1</span>' in html
    assert 'Open <span class="count">1</span>' in html
    html = texts(viewer_client.get(QUEUE + "?q=Firewall"))
    assert 'Ignored <span class="count">1</span>' in html and 'Open <span class="count">0</span>' in html
    cache.clear()


@pytest.mark.parametrize(
    "path, anonymous, viewer_status, finance_status",
    [
        ("/missed-billing/", 302, 200, 200),
        ("/missed-billing/{pk}/", 302, 200, 200),
        ("/missed-billing/{pk}/apply/", 302, 403, 200),
        ("/missed-billing/{pk}/snooze/", 302, 405, 405),
        ("/missed-billing/{pk}/ignore/", 302, 405, 405),
        ("/missed-billing/{pk}/review/", 302, 405, 405),
        ("/missed-billing/bulk/", 302, 403, 302),
        ("/missed-billing/notifications/", 302, 200, 200),
        ("/missed-billing/notifications/read/", 302, 405, 405),
    ],
)
def test_get_status_by_role(client, viewer, finance, admin_user, path, anonymous, viewer_status, finance_status):
    opp = raise_quantity_opportunity()
    url = path.format(pk=opp.pk)
    assert client.get(url).status_code == anonymous
    for user, expected in ((viewer, viewer_status), (finance, finance_status), (admin_user, finance_status)):
        client.force_login(user)
        assert client.get(url).status_code == expected, (user.username, url)
