"""Bulk apply: which ready items can go together, a preview by contract, and the run.

Items go together when they share the plan action and the product and are ready
(open with a complete plan). Each item takes effect from its own default date, or from the one
date the confirmation gives for all (stored on the bulk apply, so the worker uses it). A
confirmed bulk apply is stored with one row per item;
a Celery task applies each item in a savepoint of its own (committed in batches) and records the outcome, so
the page can show progress, a failure never stops the rest, and running the same
bulk apply (or submitting the same form) twice never applies an item twice.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billingone.background import Heartbeat, queue_on_commit, require_broker
from billingone.parallel import run_side_by_side, threads_for
from billingone.text import clip
from clients.money import ZERO

from ..models import QUEUE_ORDER, BulkApply, BulkApplyItem, Opportunity, OpportunityEvent, OpportunityState
from ..selectors import invalidate_counts
from ..tasks import run_bulk_apply
from .actions import ActionRefused, apply_locked, default_effective_dates

logger = logging.getLogger(__name__)

MAX_ITEMS = 5000
COUNTS_EVERY = 50  # items between two resets of the queue's cached counts during a bulk apply
# Items committed together, each in a savepoint of its own (a refusal or an error undoes only its
# item): one commit's disk flush for many items. Each connection takes the items of its own
# contracts, so two never wait for each other's locks.
BATCH = 20


def group_key(opp: Opportunity) -> tuple:
    return (opp.plan_action, opp.product_id)


def is_ready(opp: Opportunity) -> bool:
    return opp.state == OpportunityState.OPEN and opp.ready_to_apply and bool(opp.plan_action)


def incompatibility(opp: Opportunity, anchor: Opportunity | None) -> str:
    """Why ``opp`` cannot join a selection started with ``anchor`` ('' when it can)."""
    if not is_ready(opp):
        if opp.state != OpportunityState.OPEN:
            return f"Not open ({opp.get_state_display().lower()})"
        return opp.not_ready_reason or "Not ready to apply"
    if opp.plan_contract_id is None:
        return "The contract of its plan no longer exists"
    if anchor is None:
        return ""
    if opp.plan_action != anchor.plan_action:
        return f"Different action: {opp.get_plan_action_display().lower()}"
    if opp.product_id != anchor.product_id:
        name = opp.product.name if opp.product_id and opp.product else "another product"
        return f"Different product: {name}"
    return ""


def largest_group_anchor(opportunities) -> Opportunity | None:
    """The item that decides a group chosen all at once: the largest group of ready items wins
    (ties: the group met first in the order given)."""
    ready = [o for o in opportunities if is_ready(o)]
    sizes: dict[tuple, int] = {}
    for opp in ready:
        sizes[group_key(opp)] = sizes.get(group_key(opp), 0) + 1
    return max(ready, key=lambda o: sizes[group_key(o)], default=None)


@dataclass
class ContractGroup:
    contract: object
    items: list = field(default_factory=list)
    total: Decimal = ZERO


@dataclass
class BulkPreview:
    compatible: list
    refused: list  # (opportunity, reason)
    groups: list
    total: Decimal

    @property
    def count(self) -> int:
        return len(self.compatible)


def preview_bulk_apply(*, opportunity_ids) -> BulkPreview:
    """Split the selection into what can be applied together and what cannot, grouped by contract."""
    ids = _clean_ids(opportunity_ids)
    opps = list(
        Opportunity.objects.filter(pk__in=ids)
        .select_related("product", "plan_product", "plan_contract__client", "plan_line")
        .order_by(*QUEUE_ORDER)
    )
    anchor = largest_group_anchor(opps)
    compatible, refused = [], []
    for opp in opps:
        reason = incompatibility(opp, anchor)
        (refused.append((opp, reason)) if reason else compatible.append(opp))
    groups: dict[int, ContractGroup] = {}
    for opp in compatible:
        group = groups.setdefault(opp.plan_contract_id, ContractGroup(contract=opp.plan_contract))
        group.items.append(opp)
        group.total += opp.plan_monthly_delta or ZERO
    ordered = sorted(groups.values(), key=lambda g: (g.contract.client.name, g.contract.pk))
    total = sum((g.total for g in ordered), ZERO)
    return BulkPreview(compatible=compatible, refused=refused, groups=ordered, total=total)


def _clean_ids(opportunity_ids) -> list[int]:
    ids = []
    for raw in opportunity_ids or []:
        try:
            ids.append(int(raw))
        except (TypeError, ValueError):
            raise ActionRefused(f"“{raw}” is not an item number.") from None
    if len(ids) > MAX_ITEMS:
        raise ActionRefused(f"Select at most {MAX_ITEMS} items at a time.")
    return sorted(set(ids))


def start_bulk_apply(
    *, opportunity_ids, idempotency_key: str, actor=None, effective_on: dt.date | None = None
) -> tuple[BulkApply, bool]:
    """Store a bulk apply for the compatible items and queue its run; the same key twice is one bulk apply.

    ``effective_on``: the date every item takes effect from (an item it does not fit, such as a date
    before its line starts or more than a year ahead, fails alone with the reason); None: each item
    from its own default (``actions.default_effective_date``). Returns ``(bulk, created)``.
    """
    key = (idempotency_key or "").strip()
    if not key or len(key) > 64:
        raise ActionRefused("This form has expired; open the preview again.")
    existing = BulkApply.objects.filter(idempotency_key=key).first()
    if existing:
        return existing, False
    require_broker()  # refused before anything is stored while no worker can hear of it
    preview = preview_bulk_apply(opportunity_ids=opportunity_ids)
    if not preview.compatible:
        raise ActionRefused("None of the selected items can be applied.")
    anchor = preview.compatible[0]
    try:
        with transaction.atomic():
            bulk = BulkApply.objects.create(
                idempotency_key=key,
                plan_action=anchor.plan_action,
                product_id=anchor.product_id,
                created_by=actor,
                effective_on=effective_on,
            )
            BulkApplyItem.objects.bulk_create(BulkApplyItem(bulk=bulk, opportunity=o) for o in preview.compatible)
    except IntegrityError:
        # The same form submitted twice at once: the other request stored it first.
        return BulkApply.objects.get(idempotency_key=key), False
    _queue_run(bulk.pk)
    return bulk, True


def _queue_run(bulk_id: int) -> None:
    def not_queued(message):
        BulkApply.objects.filter(pk=bulk_id, status=BulkApply.Status.QUEUED).update(
            status=BulkApply.Status.INTERRUPTED, message=clip(f"Not started: {message}", 500)
        )

    queue_on_commit(run_bulk_apply, bulk_id, on_failure=not_queued)


def resume_bulk_apply(*, bulk_id: int) -> BulkApply:
    """Queue a stopped bulk apply again: only its waiting items run (an applied one never twice)."""
    require_broker()
    with transaction.atomic():
        bulk = BulkApply.objects.select_for_update().get(pk=bulk_id)
        if bulk.status == BulkApply.Status.FINISHED:
            raise ActionRefused("This bulk apply has finished; nothing is left to apply.")
        if not bulk.stopped:
            raise ActionRefused("This bulk apply is still running; it can be resumed only once it stops.")
        bulk.status, bulk.message = BulkApply.Status.QUEUED, ""
        bulk.save(update_fields=["status", "message"])
        _queue_run(bulk.pk)
    return bulk


def run_bulk(*, bulk_id: int) -> BulkApply:
    """Apply every waiting item of the bulk apply, each in a savepoint of its own; safe to run twice."""
    with transaction.atomic():
        bulk = BulkApply.objects.select_for_update().get(pk=bulk_id)
        if bulk.status == BulkApply.Status.FINISHED:
            return bulk
        now = timezone.now()
        bulk.status, bulk.heartbeat_at, bulk.started_at = BulkApply.Status.RUNNING, now, bulk.started_at or now
        bulk.save(update_fields=["status", "started_at", "heartbeat_at"])
    actor = bulk.created_by
    pending = list(
        BulkApplyItem.objects.filter(bulk_id=bulk_id, state=BulkApplyItem.State.PENDING)
        .select_related("opportunity")
        .only("pk", "opportunity__client_id", "opportunity__plan_line_id", "opportunity__plan_contract_id")
        .order_by("id")
    )
    # On PostgreSQL a few connections side by side, each with the items of its own contracts.
    threads = threads_for(getattr(settings, "BULK_APPLY_THREADS", 4), jobs=len(pending)) if pending else 1
    lanes = [[] for _ in range(threads)]
    for item in pending:
        lanes[(item.opportunity.plan_contract_id or item.pk) % threads].append(item.pk)
    dates = _dates(pending, bulk.effective_on)
    jobs = [(_apply_items, (lane, actor, dates)) for lane in lanes if lane]
    with Heartbeat(BulkApply, bulk_id):
        run_side_by_side(jobs, threads=threads)
    invalidate_counts()
    with transaction.atomic():
        bulk = BulkApply.objects.select_for_update().get(pk=bulk_id)
        if not bulk.items.filter(state=BulkApplyItem.State.PENDING).exists():
            bulk.status, bulk.finished_at = BulkApply.Status.FINISHED, timezone.now()
            bulk.save(update_fields=["status", "finished_at"])
    return bulk


def _dates(items, effective_on) -> dict[int, dt.date]:
    """Each item's date: the bulk apply's one date, or the item's own default (read for all at once)."""
    if effective_on is not None:
        return {item.pk: effective_on for item in items}
    defaults = default_effective_dates([item.opportunity for item in items])
    return {item.pk: defaults[item.opportunity_id] for item in items}


def _apply_items(item_ids, actor, dates) -> None:
    for start in range(0, len(item_ids), BATCH):
        with transaction.atomic():
            for item_id in item_ids[start : start + BATCH]:
                apply_bulk_item(item_id=item_id, actor=actor, effective_on=dates.get(item_id))
        if (start // BATCH + 1) % max(1, COUNTS_EVERY // BATCH) == 0:
            invalidate_counts()  # the queue's cached counts follow along, without a round trip per item


def apply_bulk_item(*, item_id: int, actor=None, effective_on: dt.date | None = None) -> BulkApplyItem:
    """Apply one item of a bulk apply in its own transaction (a savepoint, inside a batch) and
    record the outcome (from ``effective_on``, the bulk apply's one date, or the item's own default
    when None)."""
    try:
        with transaction.atomic():
            # One query locks the item and its opportunity (PostgreSQL: FOR UPDATE OF both).
            item = (
                BulkApplyItem.objects.select_for_update(of=("self", "opportunity"))
                .select_related("opportunity")
                .get(pk=item_id)
            )
            if item.state != BulkApplyItem.State.PENDING:
                return item  # already done by an earlier (or concurrent) run
            try:
                apply_locked(item.opportunity, actor, effective_on=effective_on)
                item.state, item.message = BulkApplyItem.State.APPLIED, ""
            except ActionRefused as exc:  # raised before anything was written
                item.state, item.message = BulkApplyItem.State.FAILED, clip(exc, 300)
                _refusal_event(item, actor)
            item.finished_at = timezone.now()
            item.save(update_fields=["state", "message", "finished_at"])
    except Exception:  # one broken item must not stop the others; its writes were rolled back
        logger.exception("bulk apply: item %s failed", item_id)
        with transaction.atomic():
            item = BulkApplyItem.objects.select_for_update().get(pk=item_id)
            if item.state == BulkApplyItem.State.PENDING:
                item.state = BulkApplyItem.State.FAILED
                item.message = "An unexpected error stopped this item; nothing was changed for it."
                item.finished_at = timezone.now()
                item.save(update_fields=["state", "message", "finished_at"])
                _refusal_event(item, actor)
    return item


def _refusal_event(item, actor):
    OpportunityEvent.objects.create(
        opportunity_id=item.opportunity_id,
        action=OpportunityEvent.Action.APPLY_FAILED,
        note=clip(f"Bulk apply #{item.bulk_id}: {item.message}", 500),
        actor=actor,
    )
