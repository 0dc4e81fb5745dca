"""The demo states seeding: harmless with nothing detected, uses the services, idempotent."""

import io

import pytest

from opportunities import demo
from opportunities.models import Opportunity, OpportunityEvent

from .factories import OpportunityFactory

pytestmark = pytest.mark.django_db


def test_does_nothing_without_opportunities():
    out = io.StringIO()
    assert sum(demo.seed_queue_states(stdout=out).values()) == 0
    assert "nothing to do" in out.getvalue()


def test_moves_a_few_items_through_the_services_once(finance):
    for _ in range(10):
        OpportunityFactory()
    demo.seed_queue_states()
    demo.seed_queue_states()
    states = {s: Opportunity.objects.filter(state=s).count() for s in ("open", "snoozed", "ignored", "reviewed")}
    assert states == {"open": 4, "snoozed": 2, "ignored": 2, "reviewed": 2}
    assert OpportunityEvent.objects.filter(actor=finance).count() == 6
