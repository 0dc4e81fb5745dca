"""Compare what the opportunities should say with what they say, and write only the differences.

Rows are read as named tuples, not model instances: most are unchanged and need no object at all.
What happens to one existing row is decided by :func:`transition`, a pure function. Nothing is
written for a row whose values did not change, so a re-run with nothing changed writes nothing.
"""

from collections import namedtuple
from typing import NamedTuple

from django.utils import timezone

from billingone.text import clip

from ...models import Opportunity, OpportunityEvent, OpportunityState, figures_signature

WRITE_BATCH = 2000
UPDATE_BATCH = 500
NOTE_LENGTH = 500

# Fields detection owns on an opportunity; compared before writing.
FIGURE_FIELDS = (
    "client_name",
    "product_id",
    "severity",
    "severity_rank",
    "description",
    "root_cause",
    "suggested_action",
    "monthly_impact",
    "expected_quantity",
    "billed_quantity",
    "ready_to_apply",
    "not_ready_reason",
    "plan_action",
    "plan_contract_id",
    "plan_line_id",
    "plan_product_id",
    "plan_from_quantity",
    "plan_to_quantity",
    "plan_unit_price",
    "plan_monthly_delta",
)
ROW_FIELDS = (
    "pk",
    "client_id",
    "kind",
    "source_key",
    "state",
    "snoozed_until",
    "reviewed_signature",
    *FIGURE_FIELDS,
    "last_detected_at",
)
ExistingRow = namedtuple("ExistingRow", ROW_FIELDS)
ACTIVE_STATES = (OpportunityState.OPEN, OpportunityState.REVIEWED, OpportunityState.SNOOZED)
DONE_STATES = (OpportunityState.RESOLVED, OpportunityState.APPLIED)
Action = OpportunityEvent.Action


class Transition(NamedTuple):
    """What detection does to one existing opportunity: its new state, and the event (or None)."""

    state: str
    action: str | None
    note: str


def changed_fields(row: ExistingRow, figures: dict) -> list[str]:
    return [name for name in FIGURE_FIELDS if getattr(row, name) != figures[name]]


def transition(row: ExistingRow, figures: dict, today, *, changed: list[str]) -> Transition:
    """The state an existing opportunity moves to when detection finds its gap again with
    ``figures`` (``changed`` names the fields that differ from the row):

    - resolved or applied: the gap is back, so it reopens;
    - snoozed until today or earlier: it wakes up (open);
    - reviewed, and the figures a reviewer signed off changed: it reopens;
    - open with changed figures: it stays open, updated;
    - anything else (ignored for good, snoozed, reviewed with the same figures): unchanged state,
      no event (changed figures are still kept current, silently).
    """
    if row.state in DONE_STATES:
        return Transition(OpportunityState.OPEN, Action.REOPENED, "The gap is back.")
    if row.state == OpportunityState.SNOOZED and row.snoozed_until and row.snoozed_until <= today:
        return Transition(OpportunityState.OPEN, Action.UNSNOOZED, "Snooze date reached.")
    if row.state == OpportunityState.REVIEWED and changed:
        now = {name: figures[name] if name in changed else getattr(row, name) for name in FIGURE_FIELDS}
        if figures_signature(now) != row.reviewed_signature:
            return Transition(OpportunityState.OPEN, Action.REOPENED, "Its figures changed.")
    if changed and row.state == OpportunityState.OPEN:
        names = ", ".join(name.replace("_id", "").replace("_", " ") for name in changed)
        return Transition(OpportunityState.OPEN, Action.UPDATED, "Changed: " + names)
    return Transition(row.state, None, "")


class Writes:
    """What one chunk writes: new opportunities, changed ones, and their history."""

    def __init__(self, run):
        self.run, self.now = run, timezone.now()
        self.to_create, self.to_update, self.events, self.reopened = [], [], [], []

    def event(self, opp, action, from_state, to_state, note=""):
        self.events.append(
            OpportunityEvent(
                opportunity=opp,
                action=action,
                from_state=from_state,
                to_state=to_state,
                note=clip(note, NOTE_LENGTH),
                run=self.run,
            )
        )


def reconcile(client_ids, wanted, *, run, today, totals) -> None:
    """Create, update and resolve the opportunities of these clients so they say ``wanted``."""
    existing = {
        (row.client_id, row.kind, row.source_key): row
        for row in map(
            ExistingRow._make,
            Opportunity.objects.filter(client_id__in=client_ids).order_by("pk").values_list(*ROW_FIELDS),
        )
    }
    writes = Writes(run)
    for identity, figures in wanted.items():
        row = existing.pop(identity, None)
        if row is None:
            writes.to_create.append(_new(identity, figures, writes))
        else:
            _update(row, figures, today, writes, totals)
    for row in existing.values():  # no longer wanted: an active gap that closed by itself
        if row.state in ACTIVE_STATES:
            _resolve(row, writes, totals)
    _write(writes, totals)


def _new(identity, figures, writes) -> Opportunity:
    client_id, kind, key = identity
    return Opportunity(
        client_id=client_id,
        kind=kind,
        source_key=key,
        state=OpportunityState.OPEN,
        last_run=writes.run,
        first_detected_at=writes.now,
        last_detected_at=writes.now,
        **figures,
    )


def _update(row, figures, today, writes, totals) -> None:
    changed = changed_fields(row, figures)
    step = transition(row, figures, today, changed=changed)
    if not changed and step.action is None:
        totals.unchanged += 1
        return
    opp = Opportunity(**row._asdict())
    for name in changed:
        setattr(opp, name, figures[name])
    opp.state = step.state
    if step.action == Action.UNSNOOZED:
        opp.snoozed_until = None
    opp.last_run, opp.last_detected_at, opp.updated_at = writes.run, writes.now, writes.now
    writes.to_update.append(opp)
    totals.updated += 1
    if step.action is not None:
        writes.event(opp, step.action, row.state, opp.state, step.note)
        if step.action in (Action.REOPENED, Action.UNSNOOZED):
            writes.reopened.append(opp)


def _resolve(row, writes, totals) -> None:
    opp = Opportunity(**row._asdict())
    writes.event(opp, Action.RESOLVED, opp.state, OpportunityState.RESOLVED, "The sources and the contracts agree now.")
    opp.state, opp.snoozed_until, opp.last_run, opp.updated_at = (
        OpportunityState.RESOLVED,
        None,
        writes.run,
        writes.now,
    )
    writes.to_update.append(opp)
    totals.resolved += 1


def _write(writes, totals) -> None:
    if writes.to_create:
        # Both backends return the new ids from a bulk insert (PostgreSQL, SQLite 3.35+).
        Opportunity.objects.bulk_create(writes.to_create, batch_size=WRITE_BATCH)
        totals.created += len(writes.to_create)
        totals.created_ids.extend(o.pk for o in writes.to_create)
        for opp in writes.to_create:
            writes.event(opp, Action.DETECTED, "", OpportunityState.OPEN)
    if writes.to_update:
        Opportunity.objects.bulk_update(
            writes.to_update,
            [*FIGURE_FIELDS, "state", "snoozed_until", "last_run", "last_detected_at", "updated_at"],
            batch_size=UPDATE_BATCH,
        )
    if writes.events:
        OpportunityEvent.objects.bulk_create(writes.events, batch_size=WRITE_BATCH)
    totals.reopened_ids.extend(o.pk for o in writes.reopened)
