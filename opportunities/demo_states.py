"""Demo: put a few detected opportunities into snoozed / ignored / reviewed states, through the
same services the console uses (so the history shows who and when).

Called by the demo seeding after detection has run; with no open opportunities it does nothing.
Running it twice changes nothing more: it only picks items that are still open and only
while fewer than the wanted number are in each state.
"""

import datetime as dt

from clients.dates import org_today

from .models import Opportunity, OpportunityState
from .services import actions
from .services.notifications import recipients

WANTED = {OpportunityState.SNOOZED: 2, OpportunityState.IGNORED: 2, OpportunityState.REVIEWED: 2}


def seed(stdout=None) -> dict:
    """Returns how many items it moved into each state."""
    actor = recipients().filter(is_superuser=False).order_by("id").first() or recipients().order_by("id").first()
    moved = {}
    # Low-impact items first: the demo queue keeps its most valuable items open.
    candidates = list(
        Opportunity.objects.filter(state=OpportunityState.OPEN).order_by("severity_rank", "monthly_impact", "id")[:20]
    )
    for state, wanted in WANTED.items():
        missing = wanted - Opportunity.objects.filter(state=state).count()
        count = 0
        while missing > 0 and candidates:
            opp = candidates.pop(0)
            if state == OpportunityState.SNOOZED:
                actions.snooze_opportunity(opportunity=opp, until=org_today() + dt.timedelta(days=14), actor=actor)
            elif state == OpportunityState.IGNORED:
                actions.ignore_opportunity(
                    opportunity=opp, reason="Demo: billed under a separate agreement", actor=actor
                )
            else:
                actions.mark_reviewed(opportunity=opp, actor=actor)
            missing -= 1
            count += 1
        moved[state] = count
    if stdout is not None:
        stdout.write(
            "Missed billing demo states: "
            + ", ".join(f"{n} {state}" for state, n in moved.items())
            + ("" if any(moved.values()) else " (nothing to do)")
            + "\n"
        )
    return moved
