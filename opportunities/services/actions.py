"""What finance staff do to one opportunity: snooze, ignore, mark reviewed, reopen, apply.

Every action locks the opportunity, checks it is still in a state the action makes
sense for, changes it and appends an ``OpportunityEvent`` with the actor. Bad input
raises ``ActionRefused`` with a message fit for the page; nothing is changed then.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billingone.text import clip
from clients.billing_calendar import first_unbilled_months
from clients.dates import display_date, org_today
from clients.models import Contract, ContractChange, ContractLine
from clients.money import quantize
from clients.services import add_contract_line, change_contract_line

from ..models import DetectionRun, Opportunity, OpportunityEvent, OpportunityState, PlanAction
from ..selectors import invalidate_counts

Event = OpportunityEvent.Action
State = OpportunityState

# States an item can be snoozed / ignored / reviewed / applied from.
ACTIONABLE = {State.OPEN, State.SNOOZED, State.REVIEWED}
# States a person put an item in, and can take it back out of (undo).
REOPENABLE = {State.SNOOZED, State.IGNORED, State.REVIEWED}


class ActionRefused(Exception):  # noqa: N818 - reads as what happened
    """The action cannot be done; the message says why, in words for the page."""


# What a refusal says when the plan no longer matches the contract (the page adds "Nothing was changed").
STALE = "The plan is out of date: Check again on the item's page refreshes it from the client's current data."

SNOOZE_LONGEST = dt.timedelta(days=366)  # a snooze ends within a year: longer is what "ignore" is for
EFFECTIVE_AHEAD = dt.timedelta(days=366)  # how far ahead an apply may take effect


def default_snooze_date() -> dt.date:
    """What the snooze form proposes: a week from the organisation's today."""
    return org_today() + dt.timedelta(days=7)


def latest_snooze_date() -> dt.date:
    return org_today() + SNOOZE_LONGEST


def _lock(pk: int) -> Opportunity:
    try:
        return Opportunity.objects.select_for_update().get(pk=pk)
    except Opportunity.DoesNotExist:
        raise ActionRefused("This item no longer exists.") from None


def _event(opp, action, *, from_state, actor, note="") -> OpportunityEvent:
    return OpportunityEvent.objects.create(
        opportunity=opp, action=action, from_state=from_state, to_state=opp.state, note=clip(note, 500), actor=actor
    )


def _check_actionable(opp, verb):
    if opp.state not in ACTIONABLE:
        raise ActionRefused(f"This item is {opp.get_state_display().lower()}; it cannot be {verb} any more.")


@transaction.atomic
def snooze_opportunity(*, opportunity: Opportunity, until: dt.date, actor=None) -> Opportunity:
    """Hide the item until ``until`` (a date after the organisation's today)."""
    if until is None or until <= org_today():
        raise ActionRefused("Choose a date in the future to snooze until.")
    if until > latest_snooze_date():
        raise ActionRefused(
            f"Snooze for at most a year (until {display_date(latest_snooze_date())}); to drop the item for good, ignore it."
        )
    opp = _lock(opportunity.pk)
    _check_actionable(opp, "snoozed")
    from_state = opp.state
    opp.state, opp.snoozed_until = State.SNOOZED, until
    opp.save(update_fields=["state", "snoozed_until", "updated_at"])
    transaction.on_commit(invalidate_counts)
    _event(opp, Event.SNOOZED, from_state=from_state, actor=actor, note=f"Until {display_date(until)}")
    return opp


@transaction.atomic
def ignore_opportunity(*, opportunity: Opportunity, reason: str = "", actor=None) -> Opportunity:
    """Dismiss the item for good, with an optional reason."""
    reason = clip((reason or "").strip(), 300)
    opp = _lock(opportunity.pk)
    _check_actionable(opp, "ignored")
    from_state = opp.state
    opp.state, opp.ignore_reason, opp.snoozed_until = State.IGNORED, reason, None
    opp.save(update_fields=["state", "ignore_reason", "snoozed_until", "updated_at"])
    transaction.on_commit(invalidate_counts)
    _event(opp, Event.IGNORED, from_state=from_state, actor=actor, note=reason)
    return opp


@transaction.atomic
def mark_reviewed(*, opportunity: Opportunity, actor=None) -> Opportunity:
    """Acknowledge without applying; detection reopens it only when its figures change."""
    opp = _lock(opportunity.pk)
    _check_actionable(opp, "marked reviewed")
    from_state = opp.state
    opp.state, opp.snoozed_until = State.REVIEWED, None
    opp.reviewed_signature = opp.figures_signature()
    opp.save(update_fields=["state", "snoozed_until", "reviewed_signature", "updated_at"])
    transaction.on_commit(invalidate_counts)
    _event(opp, Event.REVIEWED, from_state=from_state, actor=actor)
    return opp


@transaction.atomic
def reopen_opportunity(*, opportunity: Opportunity, actor=None) -> Opportunity:
    """Undo a snooze, an ignore or a review: the item is open in the queue again."""
    opp = _lock(opportunity.pk)
    if opp.state not in REOPENABLE:
        raise ActionRefused(
            f"This item is {opp.get_state_display().lower()}; only snoozed, ignored or reviewed items reopen."
        )
    from_state = opp.state
    opp.state, opp.snoozed_until, opp.ignore_reason, opp.reviewed_signature = State.OPEN, None, "", ""
    opp.save(update_fields=["state", "snoozed_until", "ignore_reason", "reviewed_signature", "updated_at"])
    transaction.on_commit(invalidate_counts)
    _event(opp, Event.REOPENED, from_state=from_state, actor=actor, note=f"Was {State(from_state).label.lower()}")
    return opp


def apply_opportunity(*, opportunity: Opportunity, actor=None, effective_on: dt.date | None = None) -> Opportunity:
    """Carry out the apply plan on the contract from ``effective_on`` (by default the first day of
    the first month not yet billed for the client), in one transaction, under row locks.

    A plan that no longer matches the contract, or a date outside the line's or contract's dates,
    changes nothing: ``ActionRefused`` says why, and the refusal is kept in the item's history.
    """
    try:
        return _apply(opportunity.pk, actor, effective_on)
    except ActionRefused as exc:
        if Opportunity.objects.filter(pk=opportunity.pk).exists():
            OpportunityEvent.objects.create(
                opportunity_id=opportunity.pk, action=Event.APPLY_FAILED, note=clip(exc, 500), actor=actor
            )
        raise


@transaction.atomic
def _apply(pk: int, actor, effective_on) -> Opportunity:
    return apply_locked(_lock(pk), actor, effective_on=effective_on)


def default_effective_date(opp: Opportunity) -> dt.date:
    """The date an apply takes effect unless Finance sets another: the first day of the first month
    not yet billed for the client, or the plan's line (or contract) start when that is later."""
    return default_effective_dates([opp])[opp.pk]


def default_effective_dates(opps) -> dict[int, dt.date]:
    """``default_effective_date`` for many opportunities in three queries (a bulk apply's items)."""
    firsts = first_unbilled_months({opp.client_id for opp in opps})
    line_starts = dict(
        ContractLine.objects.filter(pk__in={o.plan_line_id for o in opps if o.plan_line_id}).values_list(
            "pk", "start_date"
        )
    )
    contract_starts = dict(
        Contract.objects.filter(pk__in={o.plan_contract_id for o in opps if not o.plan_line_id}).values_list(
            "pk", "start_date"
        )
    )
    dates = {}
    for opp in opps:
        first = firsts[opp.client_id]
        start = line_starts.get(opp.plan_line_id) if opp.plan_line_id else contract_starts.get(opp.plan_contract_id)
        dates[opp.pk] = max(first, start) if start else first
    return dates


def latest_effective_date() -> dt.date:
    """An apply takes effect within a year from the organisation's today (a later date is a typo)."""
    return org_today() + EFFECTIVE_AHEAD


def apply_locked(opp: Opportunity, actor, *, effective_on: dt.date | None = None) -> Opportunity:
    """The apply itself, for an opportunity the caller has locked inside its transaction.

    Every refusal is raised before anything is written (the contract's writes run in a savepoint).
    """
    if opp.state == State.APPLIED:
        who = f" by {opp.applied_by}" if opp.applied_by_id else ""
        raise ActionRefused(f"This item was already applied{who}.")
    _check_actionable(opp, "applied")
    if not opp.ready_to_apply or not opp.plan_action:
        raise ActionRefused(opp.not_ready_reason or "This item has no apply plan.")
    handler = _PLANS.get(opp.plan_action)
    if handler is None:
        raise ActionRefused("This kind of plan cannot be applied from the queue.")
    effective_on = effective_on or default_effective_date(opp)
    if effective_on > latest_effective_date():
        raise ActionRefused(
            f"{display_date(effective_on)} is more than a year ahead; choose a date up to "
            f"{display_date(latest_effective_date())}."
        )
    try:
        with transaction.atomic():
            detail = handler(opp, effective_on, actor)
    except ValidationError as exc:
        raise ActionRefused(" ".join(exc.messages)) from None
    from_state = opp.state
    opp.state, opp.applied_at, opp.applied_by, opp.snoozed_until = State.APPLIED, timezone.now(), actor, None
    opp.applied_from = effective_on
    opp.save(update_fields=["state", "applied_at", "applied_by", "applied_from", "snoozed_until", "updated_at"])
    transaction.on_commit(invalidate_counts)
    _event(opp, Event.APPLIED, from_state=from_state, actor=actor, note=detail)
    return opp


def _locked_contract(opp) -> Contract:
    if not opp.plan_contract_id:
        raise ActionRefused("The plan has no target contract any more.")
    contract = Contract.objects.select_for_update().filter(pk=opp.plan_contract_id).first()
    if contract is None:
        raise ActionRefused("The target contract no longer exists.")
    if not contract.is_in_force():
        raise ActionRefused(f"Contract {contract.number} is no longer in force.")
    return contract


def _locked_line(opp, effective_on) -> ContractLine:
    # One query locks the line and its contract (PostgreSQL: FOR UPDATE OF both).
    line = (
        ContractLine.objects.select_for_update(of=("self", "contract"))
        .select_related("contract", "product")
        .filter(pk=opp.plan_line_id)
        .first()
        if opp.plan_line_id
        else None
    )
    if line is None or line.contract_id != opp.plan_contract_id:
        raise ActionRefused(f"The contract line in the plan no longer exists. {STALE}")
    if not line.contract.is_in_force():
        raise ActionRefused(f"Contract {line.contract.number} is no longer in force.")
    if opp.plan_from_quantity is not None and line.quantity != opp.plan_from_quantity:
        raise ActionRefused(
            f"The line's quantity changed since detection: it is now {line.quantity}, the plan expected "
            f"{opp.plan_from_quantity}. {STALE}"
        )
    if effective_on < line.start_date:
        raise ActionRefused(
            f"{display_date(effective_on)} is before the line starts ({display_date(line.start_date)}); "
            "choose a date from then on."
        )
    if line.end_date is not None and effective_on > line.end_date:
        raise ActionRefused(f"The line ends on {display_date(line.end_date)}; choose a date up to then. {STALE}")
    return line


def _add_line(opp, effective_on, actor) -> str:
    contract = _locked_contract(opp)
    product = opp.plan_product or opp.product
    if product is None or opp.plan_to_quantity is None or opp.plan_unit_price is None:
        raise ActionRefused("The plan is incomplete (product, quantity or price missing).")
    billing = ContractLine.objects.filter(contract=contract, product=product).overlapping(effective_on, dt.date.max)
    if billing.exists():
        raise ActionRefused(f"Contract {contract.number} already bills {product.name} now. {STALE}")
    line = add_contract_line(
        contract=contract,
        product=product,
        quantity=opp.plan_to_quantity,
        unit_price=quantize(opp.plan_unit_price),
        start_date=effective_on,
        actor=actor,
        source=ContractChange.Source.MISSED_BILLING,
        note=f"missed billing #{opp.pk}",
    )
    when = display_date(effective_on)
    return f"Added {line.quantity} × {product.sku} at {line.unit_price} from {when} (missed billing #{opp.pk})"


def _change_line(opp, line, effective_on, actor, **changes) -> ContractLine:
    """The plan's change to the line from ``effective_on``, recorded as this item's."""
    return change_contract_line(
        line,
        **changes,
        effective_on=effective_on,
        actor=actor,
        source=ContractChange.Source.MISSED_BILLING,
        note=f"missed billing #{opp.pk}",
        locked=True,  # _locked_line holds the line and its contract
    )


def _raise_quantity(opp, effective_on, actor) -> str:
    line = _locked_line(opp, effective_on)
    if opp.plan_to_quantity is None or opp.plan_to_quantity <= line.quantity:
        raise ActionRefused("The plan does not raise the quantity.")
    before = line.quantity
    new = _change_line(opp, line, effective_on, actor, quantity=opp.plan_to_quantity)
    when = display_date(effective_on)
    return f"{line.product.sku}: quantity {before} → {new.quantity} from {when} (missed billing #{opp.pk})"


def _migrate_product(opp, effective_on, actor) -> str:
    line = _locked_line(opp, effective_on)
    if opp.plan_product_id is None:
        raise ActionRefused("The plan has no replacement product.")
    if opp.product_id and line.product_id != opp.product_id:
        raise ActionRefused(
            f"The line no longer bills {opp.product.name if opp.product else 'the retired product'}. {STALE}"
        )
    old_sku, new_product = line.product.sku, opp.plan_product
    price = quantize(opp.plan_unit_price) if opp.plan_unit_price is not None else None
    new = _change_line(opp, line, effective_on, actor, product=new_product, unit_price=price)
    when = display_date(effective_on)
    return f"{old_sku} → {new_product.sku} at {new.unit_price} × {new.quantity} from {when} (missed billing #{opp.pk})"


_PLANS = {
    PlanAction.ADD_LINE: _add_line,
    PlanAction.RAISE_QUANTITY: _raise_quantity,
    PlanAction.MIGRATE_PRODUCT: _migrate_product,
}


def expire_snoozes(*, today: dt.date | None = None) -> int:
    """Snoozed items whose date has come go back to the open queue (set-based); returns how many."""
    today = today or org_today()
    with transaction.atomic():
        due = list(
            Opportunity.objects.select_for_update()
            .filter(state=State.SNOOZED, snoozed_until__lte=today)
            .order_by("pk")
            .values_list("pk", "snoozed_until")
        )
        if not due:
            return 0
        ids = [pk for pk, _ in due]
        Opportunity.objects.filter(pk__in=ids).update(state=State.OPEN, snoozed_until=None, updated_at=timezone.now())
        transaction.on_commit(invalidate_counts)
        OpportunityEvent.objects.bulk_create(
            OpportunityEvent(
                opportunity_id=pk,
                action=Event.UNSNOOZED,
                from_state=State.SNOOZED,
                to_state=State.OPEN,
                note=f"Snoozed until {display_date(until)}",
            )
            for pk, until in due
        )
    return len(due)


__all__ = [
    "ActionRefused",
    "apply_opportunity",
    "default_effective_date",
    "default_effective_dates",
    "default_snooze_date",
    "expire_snoozes",
    "latest_effective_date",
    "ignore_opportunity",
    "mark_reviewed",
    "snooze_opportunity",
]


def recheck_client(*, opportunity, actor=None) -> Opportunity:
    """Run detection for this item's client alone, so a stale plan is brought up to date (Finance
    may do this for one client; a run over every client stays with Admins). Returns the item as
    detection left it (it may have resolved itself)."""
    from .detection import run_detection

    run_detection(trigger=DetectionRun.Trigger.MANUAL, client_ids=[opportunity.client_id], actor=actor)
    return Opportunity.objects.get(pk=opportunity.pk)
