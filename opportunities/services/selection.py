"""The items a person has ticked for a bulk apply, kept on the server.

A selection survives paging and filtering and never travels in a URL. It holds at most
``MAX_ITEMS`` items (the limit a bulk apply takes), and only items that can go together: the
first ready item selected (in queue order) decides the action and product the others must share.
Each change runs in one transaction holding the person's row, so two tabs ticking at once
cannot pass the limit.
"""

import hashlib

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q

from ..models import QUEUE_ORDER, Opportunity, OpportunityState, SelectedItem
from .actions import ActionRefused
from .bulk import MAX_ITEMS, incompatibility, largest_group_anchor

# The database's reading of bulk.is_ready: open, ready to apply, with a plan.
READY = Q(state=OpportunityState.OPEN, ready_to_apply=True) & ~Q(plan_action="")


def selected_ids(user) -> list[int]:
    """The selection's item numbers, in the order they were ticked (one query)."""
    return list(SelectedItem.objects.filter(user=user).order_by("id").values_list("opportunity_id", flat=True))


def selection_token(ids) -> str:
    """A short fingerprint of a selection: the confirm form carries it, so a selection changed in
    another tab after the preview is never applied unseen."""
    return hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()[:16]


def selection_anchor(user) -> Opportunity | None:
    """The first ready selected item in queue order: the group every other item must match."""
    return (
        Opportunity.objects.filter(pk__in=SelectedItem.objects.filter(user=user).values("opportunity_id"))
        .filter(READY)
        .order_by(*QUEUE_ORDER)
        .first()
    )


def _item_numbers(raw_values, what: str) -> list[int]:
    numbers = []
    for raw in raw_values:
        if not str(raw).isdigit() or len(str(raw)) > 18:
            raise ActionRefused(f"“{raw}” is not an item number ({what}).")
        numbers.append(int(raw))
    if len(numbers) > MAX_ITEMS:
        raise ActionRefused(f"A bulk apply takes at most {MAX_ITEMS:,} items; that is more.")
    return numbers


def _lock_user(user) -> None:
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def update_selection(*, user, shown, ticked) -> int:
    """Make the selection agree with one page: of the items ``shown`` there, those ``ticked`` are
    selected and the others are not. Items that cannot join the selection are left out; ticking
    past ``MAX_ITEMS`` is refused and changes nothing. Returns how many are selected."""
    shown_ids = set(_item_numbers(shown, "shown"))
    ticked_ids = set(_item_numbers(ticked, "ticked")) & shown_ids
    with transaction.atomic():
        _lock_user(user)
        SelectedItem.objects.filter(user=user, opportunity_id__in=shown_ids - ticked_ids).delete()
        ticked_items = Opportunity.objects.filter(pk__in=ticked_ids).select_related("product").order_by(*QUEUE_ORDER)
        return _add(user, ticked_items)


def select_matching(*, user, queryset) -> tuple[int, bool]:
    """Add every item of ``queryset`` (the queue's current filters) that can join the selection,
    in queue order, up to ``MAX_ITEMS`` in all. Returns ``(selected, capped)``."""
    with transaction.atomic():
        _lock_user(user)
        before = SelectedItem.objects.filter(user=user).count()
        room = MAX_ITEMS - before
        if room <= 0:
            return before, True
        group = _group_of(selection_anchor(user)) or _largest_group(queryset)
        if group is None:
            return before, False
        candidates = (
            queryset.filter(READY, plan_contract__isnull=False, **group)
            .exclude(pk__in=SelectedItem.objects.filter(user=user).values("opportunity_id"))
            .order_by(*QUEUE_ORDER)
            .values_list("pk", flat=True)
        )
        ids = list(candidates[: room + 1])
        SelectedItem.objects.bulk_create(SelectedItem(user=user, opportunity_id=pk) for pk in ids[:room])
        return before + min(len(ids), room), len(ids) > room


def _group_of(anchor) -> dict | None:
    return {"plan_action": anchor.plan_action, "product_id": anchor.product_id} if anchor else None


def _largest_group(queryset) -> dict | None:
    """The action and product most of the ready matches share (one grouped query)."""
    return (
        queryset.filter(READY, plan_contract__isnull=False)
        .values("plan_action", "product_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "plan_action", "product_id")
        .values("plan_action", "product_id")
        .first()
    )


def clear_selection(*, user, ids=None) -> None:
    """Empty the selection (or take ``ids`` out of it)."""
    items = SelectedItem.objects.filter(user=user)
    if ids is not None:
        items = items.filter(opportunity_id__in=list(ids))
    items.delete()


def _add(user, opportunities) -> int:
    already = set(SelectedItem.objects.filter(user=user).values_list("opportunity_id", flat=True))
    opportunities = list(opportunities)
    anchor = selection_anchor(user) or largest_group_anchor(opportunities)
    new = []
    for opp in opportunities:
        if opp.pk in already:
            continue
        if incompatibility(opp, anchor):
            continue
        new.append(SelectedItem(user=user, opportunity=opp))
    if len(already) + len(new) > MAX_ITEMS:
        raise ActionRefused(
            f"A bulk apply takes at most {MAX_ITEMS:,} items and {len(already):,} are selected; "
            "apply these first or clear some."
        )
    SelectedItem.objects.bulk_create(new)
    return len(already) + len(new)
