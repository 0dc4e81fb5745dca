"""Queue reads: tab counts in one grouped query, queue order, related records for the detail page."""

from decimal import Decimal

import pytest

from opportunities import selectors
from opportunities.models import Device, OpportunityKind, OpportunityState, Severity, Subscription

from .factories import (
    ClientFactory,
    OpportunityFactory,
    ProductFactory,
    billed_line,
    raise_quantity_opportunity,
)

pytestmark = pytest.mark.django_db


def test_tab_counts_in_one_grouped_query(django_assert_num_queries):
    OpportunityFactory(monthly_impact=Decimal("10.00"))
    raise_quantity_opportunity(monthly_impact=Decimal("5.50"))
    OpportunityFactory(state=OpportunityState.IGNORED, monthly_impact=Decimal("7.00"))
    OpportunityFactory(state=OpportunityState.APPLIED)
    with django_assert_num_queries(1):  # one GROUP BY state, ready_to_apply
        counts = selectors.tab_counts(selectors.Opportunity.objects.all())
    assert (counts["all"].count, counts["all"].impact) == (2, Decimal("15.50"))
    assert (counts["ready"].count, counts["ignored"].count, counts["snoozed"].count) == (1, 1, 0)


def test_queue_order_is_severity_then_impact_then_client_name():
    b = OpportunityFactory(client=ClientFactory(name="Bravo"), severity=Severity.MEDIUM, monthly_impact=Decimal("50"))
    a = OpportunityFactory(client=ClientFactory(name="Alpha"), severity=Severity.MEDIUM, monthly_impact=Decimal("50"))
    high = OpportunityFactory(severity=Severity.HIGH, monthly_impact=Decimal("1"))
    big = OpportunityFactory(severity=Severity.MEDIUM, monthly_impact=Decimal("99"))
    page = selectors.queue_page(selectors.Opportunity.objects.all(), tab="all", count=4, page_number=1)
    assert [o.pk for o in page] == [high.pk, big.pk, a.pk, b.pk]
    searched = selectors.queue_page(
        selectors.Opportunity.objects.all(), tab="all", count=4, page_number=1, sort_matches=True
    )
    assert [o.pk for o in searched] == [high.pk, big.pk, a.pk, b.pk]


def test_related_records_for_a_product_gap():
    product = ProductFactory()
    line = billed_line(product=product)
    client = line.contract.client
    opp = raise_quantity_opportunity(line=line)
    Device.objects.create(
        device_id="d1", client=client, hostname="WS-1", device_type="workstation", mapped_product=product
    )
    Device.objects.create(device_id="d2", client=client, hostname="WS-2", device_type="workstation")
    Subscription.objects.create(
        subscription_id="s1", client=client, vendor_sku="X", product_name="X", quantity=3, mapped_product=product
    )
    assert [d.hostname for d in selectors.related_devices(opp)] == ["WS-1"]
    assert [s.subscription_id for s in selectors.related_subscriptions(opp)] == ["s1"]
    assert selectors.related_lines(opp) == [line]


def test_related_records_for_an_unmapped_device_type():
    client = ClientFactory()
    opp = OpportunityFactory(
        client=client, kind=OpportunityKind.UNMAPPED, product=None, source_key="device_type:server"
    )
    Device.objects.create(device_id="d1", client=client, hostname="SRV-1", device_type="server")
    Device.objects.create(device_id="d2", client=client, hostname="SRV-2", device_type="server", excluded=True)
    assert [d.hostname for d in selectors.related_devices(opp)] == ["SRV-1"]
    assert selectors.related_subscriptions(opp) == []
