"""The apply confirmation asks for the date the change takes effect from: the first month not yet
billed by default, set back if Finance says so (with when detection first found the gap as a hint),
and a bad date refused with a message while nothing changes."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from billingone.tests.html import element
from clients import billing_calendar
from clients.dates import display_date
from clients.models import ContractChange, ContractLine
from opportunities.models import Opportunity, OpportunityState

from .factories import raise_quantity_opportunity, segment_on, this_month

pytestmark = pytest.mark.django_db
FOUND = dt.datetime(2025, 9, 14, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def opp():
    opp = raise_quantity_opportunity(to_quantity=15)
    Opportunity.objects.filter(pk=opp.pk).update(first_detected_at=FOUND)
    return Opportunity.objects.get(pk=opp.pk)


def texts(response):
    return " ".join(response.content.decode().split())


def _url(opp):
    return reverse("opportunities:apply", args=[opp.pk])


def test_the_confirmation_proposes_the_first_month_not_yet_billed_and_hints_at_the_first_detection(finance_client, opp):
    def provider(client_id):
        return dt.date(2026, 2, 1) if client_id == opp.client_id else None

    billing_calendar.register(provider)
    try:
        page = finance_client.get(_url(opp))
    finally:
        billing_calendar.unregister(provider)
    field = element(page, "input", data_testid="effective-on")
    assert (field["type"], field["value"]) == ("date", "2026-02-01")
    help_text = element(page, "p", data_testid="effective-help").text
    assert "The default, 1 Feb 2026, is the first day of the first month not yet billed" in help_text
    assert "detection first found this gap on 14 Sep 2025" in help_text
    assert element(page, "a", data_testid="use-first-found")["href"] == "?effective_on=2025-09-14"


def test_the_detail_page_says_when_detection_first_found_the_gap(viewer_client, opp):
    page = viewer_client.get(opp.get_absolute_url())
    assert element(page, "dd", data_testid="first-found").text == "14 Sep 2025"


def test_the_hint_s_link_proposes_the_first_detection_date(finance_client, opp):
    page = finance_client.get(_url(opp) + "?effective_on=2025-09-14")
    assert page.status_code == 200
    assert element(page, "input", data_testid="effective-on")["value"] == "2025-09-14"


def test_a_backdated_apply_changes_the_contract_from_that_date_and_says_so(finance_client, finance, opp):
    response = finance_client.post(_url(opp), {"effective_on": "2025-09-14"}, follow=True)
    assert "Applied: the contract was updated. It changes from 14 Sep 2025." in texts(response)
    old = ContractLine.objects.get(pk=opp.plan_line_id)
    assert (old.quantity, old.end_date) == (10, dt.date(2025, 9, 13))
    new = segment_on(old, dt.date(2025, 9, 14))
    assert (new.quantity, new.start_date) == (15, dt.date(2025, 9, 14))
    change = ContractChange.objects.get()
    assert change.actor == finance and "from 14 Sep 2025" in change.detail
    opp.refresh_from_db()
    assert opp.state == OpportunityState.APPLIED


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ("", "Give the date the change takes effect from."),
        ("2025-02-30", "That is not a date: use the date picker (YYYY-MM-DD)."),
        ("14/09/2025", "That is not a date: use the date picker (YYYY-MM-DD)."),
    ],
)
def test_a_date_that_is_not_one_is_refused_with_a_message_and_nothing_changes(finance_client, opp, sent, message):
    response = finance_client.post(_url(opp), {"effective_on": sent})
    assert response.status_code == 400
    error = element(response, "div", data_testid="error").text
    assert message in error and "Nothing was changed." in error
    assert "Confirm and apply" in texts(response)  # still on the confirmation, to correct the date
    _assert_nothing_changed(opp)


def test_a_date_before_the_line_starts_is_refused_with_the_line_s_start(finance_client, opp):
    response = finance_client.post(_url(opp), {"effective_on": "2023-12-31"})
    assert response.status_code == 400
    error = element(response, "div", data_testid="error").text
    assert "31 Dec 2023 is before the line starts (1 Jan 2024)" in error and "Nothing was changed." in error
    _assert_nothing_changed(opp)


def test_a_date_more_than_a_year_ahead_is_refused(finance_client, opp):
    far = timezone.localdate() + dt.timedelta(days=400)
    response = finance_client.post(_url(opp), {"effective_on": far.isoformat()})
    assert response.status_code == 400
    assert f"{display_date(far)} is more than a year ahead" in element(response, "div", data_testid="error").text
    _assert_nothing_changed(opp)


def test_a_bad_date_in_the_address_shows_the_message_on_the_confirmation(finance_client, opp):
    page = finance_client.get(_url(opp) + "?effective_on=soon")
    assert page.status_code == 400
    assert "That is not a date" in element(page, "div", data_testid="error").text


def test_the_default_date_applies_from_this_month(finance_client, opp):
    finance_client.post(_url(opp), {"effective_on": this_month().isoformat()})
    assert segment_on(opp.plan_line).quantity == 15
    assert ContractLine.objects.get(pk=opp.plan_line_id).end_date == this_month() - dt.timedelta(days=1)


def _assert_nothing_changed(opp):
    opp.refresh_from_db()
    assert opp.state == OpportunityState.OPEN
    assert list(ContractLine.objects.filter(contract=opp.plan_contract).values_list("quantity", "end_date")) == [
        (10, None)
    ]
    assert not ContractChange.objects.exists()
