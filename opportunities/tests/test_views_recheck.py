"""A stale plan: the refusal says what to do once, and Finance checks the one client again."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billingone.tests.html import element, elements
from clients.models import ContractLine
from opportunities.models import DetectionRun, Opportunity, OpportunityState
from opportunities.services.detection import run_detection

from .factories import (
    ClientFactory,
    ContractFactory,
    ContractLineFactory,
    DeviceFactory,
    DeviceRuleFactory,
    ProductFactory,
    segment_on,
    this_month,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def gap():
    """Twelve workstations in use, ten billed: detection plans to raise the line to 12."""
    ws = ProductFactory(name="Managed workstation", unit_price=Decimal("45.00"))
    DeviceRuleFactory(product=ws)
    client = ClientFactory(name="Acme Ltd")
    line = ContractLineFactory(contract=ContractFactory(client=client), product=ws, quantity=10)
    for _ in range(12):
        DeviceFactory(client=client)
    run_detection(trigger=DetectionRun.Trigger.COMMAND)
    return Opportunity.objects.get(), line


def test_a_stale_plan_is_refused_once_and_points_to_check_again(finance_client, gap):
    opp, line = gap
    ContractLine.objects.filter(pk=line.pk).update(quantity=11)  # someone edited the contract since
    response = finance_client.post(reverse("opportunities:apply", args=[opp.pk]), {"effective_on": this_month()})
    assert response.status_code == 400
    error = element(response, "div", data_testid="error").text
    assert "The plan is out of date" in error and "Check again" in error
    assert error.count("Nothing was changed") == 1 and "run detection" not in error
    assert element(response, "button", data_testid="recheck").text == "Check again"


def test_finance_checks_the_client_again_and_the_plan_is_current(finance_client, finance, gap):
    opp, line = gap
    ContractLine.objects.filter(pk=line.pk).update(quantity=11)
    response = finance_client.post(reverse("opportunities:recheck", args=[opp.pk]), follow=True)
    assert "Checked Acme Ltd again: the plan below is up to date." in response.content.decode()
    opp.refresh_from_db()
    assert (opp.plan_from_quantity, opp.plan_to_quantity) == (11, 12)
    run = DetectionRun.objects.latest("pk")
    assert run.client_ids == [opp.client_id] and run.triggered_by == finance
    response = finance_client.post(reverse("opportunities:apply", args=[opp.pk]), {"effective_on": this_month()})
    assert response.status_code == 302
    assert segment_on(line).quantity == 12 and ContractLine.objects.get(pk=line.pk).quantity == 11


def test_checking_again_after_the_gap_closed_says_it_resolved_itself(finance_client, gap):
    opp, line = gap
    ContractLine.objects.filter(pk=line.pk).update(quantity=12)
    response = finance_client.post(reverse("opportunities:recheck", args=[opp.pk]), follow=True)
    assert "the billing now lines up, so this item resolved itself" in response.content.decode()
    opp.refresh_from_db()
    assert opp.state == OpportunityState.RESOLVED


def test_a_viewer_neither_sees_nor_may_check_again(viewer_client, gap):
    opp, _line = gap
    assert elements(viewer_client.get(opp.get_absolute_url()), "button", data_testid="recheck") == []
    assert viewer_client.post(reverse("opportunities:recheck", args=[opp.pk])).status_code == 403
    assert viewer_client.get(reverse("opportunities:recheck", args=[opp.pk])).status_code == 405
    assert DetectionRun.objects.count() == 1


def test_a_plan_that_is_not_ready_shows_no_empty_figures(viewer_client):
    ws = ProductFactory(name="Managed workstation")
    DeviceRuleFactory(product=ws)
    client = ClientFactory()
    ContractFactory(client=client, number="AGR-1")
    ContractFactory(client=client, number="AGR-2")
    DeviceFactory(client=client)
    run_detection(trigger=DetectionRun.Trigger.COMMAND)
    page = viewer_client.get(Opportunity.objects.get().get_absolute_url())
    assert elements(page, "dd", data_testid="plan-quantity") == []
    assert "Not ready to apply from the queue: " in page.content.decode()
