"""Reads for the missed-billing pages: tab counts in one grouped query, the queue page in
queue order, the detail page's related records, the Home card and the client panel; the rule
list with its match counts, imports, detection runs, bulk applies and unread notifications."""

import hashlib
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Max, Q, Sum, Value
from django.db.models.functions import Coalesce, Concat
from django.utils.functional import cached_property

from clients.dates import org_today
from clients.models import ContractLine
from clients.money import ZERO

from .models import (
    QUEUE_ORDER,
    BulkApply,
    BulkApplyItem,
    DetectionChunk,
    DetectionRun,
    Device,
    ImportSource,
    MappingRule,
    Notification,
    Opportunity,
    OpportunityEvent,
    OpportunityKind,
    OpportunityState,
    RuleKind,
    SourceImport,
    Subscription,
    SubscriptionStatus,
)

PAGE_SIZE = 50
SORT_MATCHES_BELOW = 500  # searches with fewer matches in the tab sort them instead of walking the index
RELATED_LIMIT = 50


@dataclass(frozen=True)
class Tab:
    """A tab of the queue, defined once: which state it shows (open items only when ``ready_only``
    are ready to apply). Its filter and the grouped counts both come from here."""

    key: str
    label: str
    state: str
    ready_only: bool = False

    @property
    def filter(self) -> Q:
        return Q(state=self.state, ready_to_apply=True) if self.ready_only else Q(state=self.state)

    def holds(self, state: str, ready_to_apply: bool) -> bool:
        return state == self.state and (ready_to_apply or not self.ready_only)


QUEUE_TABS = (
    Tab("all", "Open", OpportunityState.OPEN),
    Tab("ready", "Ready to apply", OpportunityState.OPEN, ready_only=True),
    Tab("snoozed", "Snoozed", OpportunityState.SNOOZED),
    Tab("ignored", "Ignored", OpportunityState.IGNORED),
    Tab("reviewed", "Reviewed", OpportunityState.REVIEWED),
)
TABS = [(tab.key, tab.label) for tab in QUEUE_TABS]
TAB_FILTERS = {tab.key: tab.filter for tab in QUEUE_TABS}
QUEUE_STATES = [OpportunityState.OPEN, OpportunityState.SNOOZED, OpportunityState.IGNORED, OpportunityState.REVIEWED]
ROW_FIELDS = (
    "id",
    "client_id",
    "client_name",
    "kind",
    "product_id",
    "state",
    "severity",
    "severity_rank",
    "description",
    "suggested_action",
    "monthly_impact",
    "ready_to_apply",
    "not_ready_reason",
    "plan_action",
    "snoozed_until",
    "ignore_reason",
)


@dataclass
class TabCount:
    key: str
    label: str
    count: int
    impact: Decimal


COUNTS_VERSION_KEY = "opportunities:queue-counts:version"


def _grouped(queryset) -> list[dict]:
    """ONE grouped query: count and impact per (state, ready_to_apply, severity)."""
    return list(
        queryset.filter(state__in=QUEUE_STATES)
        .order_by()
        .values("state", "ready_to_apply", "severity")
        .annotate(n=Count("id"), impact=Coalesce(Sum("monthly_impact"), ZERO))
    )


def _cached_grouped(queryset, scope: str) -> list[dict]:
    """The grouped counts of ``queryset``, cached between writes (settings.QUEUE_COUNTS_CACHE_SECONDS).

    ``scope`` names the filters (empty: the whole queue). Every writer of opportunities
    bumps the version after commit -- the action and bulk services, snooze expiry and
    the detection_finished signal -- so a cached figure never outlives a change made
    through them; the timeout bounds staleness from anything else.
    """
    seconds = getattr(settings, "QUEUE_COUNTS_CACHE_SECONDS", 30)
    if not seconds:
        return _grouped(queryset)
    version = cache.get(COUNTS_VERSION_KEY)
    if version is None:
        version = uuid.uuid4().hex
        cache.set(COUNTS_VERSION_KEY, version, None)
    key = f"opportunities:queue-counts:{version}:{hashlib.sha1(scope.encode()).hexdigest()}"
    rows = cache.get(key)
    if rows is None:
        rows = _grouped(queryset)
        cache.set(key, rows, seconds)
    return rows


def invalidate_counts():
    cache.set(COUNTS_VERSION_KEY, uuid.uuid4().hex, None)


def tab_counts(queryset, *, severity: str | None = None, scope: str | None = None) -> dict[str, TabCount]:
    """Count and monthly impact of every tab in ONE grouped query, or none when cached.

    Without ``scope`` (no search or client filter) the whole queue's counts are used
    and ``severity`` picks from them; with a scope (the normalised filters) the
    filtered queryset is counted, and kept for paging through the same result.
    """
    if scope:
        rows = _cached_grouped(queryset, scope)
    else:
        rows = [r for r in _cached_grouped(Opportunity.objects.all(), "") if not severity or r["severity"] == severity]
    totals = {tab.key: [0, ZERO] for tab in QUEUE_TABS}
    for row in rows:
        for tab in QUEUE_TABS:
            if tab.holds(row["state"], row["ready_to_apply"]):
                totals[tab.key][0] += row["n"]
                totals[tab.key][1] += row["impact"]
    return {tab.key: TabCount(tab.key, tab.label, *totals[tab.key]) for tab in QUEUE_TABS}


class KnownCountPaginator(Paginator):
    """A paginator told its count (taken from the grouped tab-count query) instead of running COUNT(*)."""

    def __init__(self, object_list, per_page, *, count: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self._known_count = count

    @cached_property
    def count(self):
        return self._known_count


def queue_page(
    queryset,
    *,
    tab: str,
    count: int,
    page_number,
    per_page: int = PAGE_SIZE,
    sort_matches: bool = False,
    with_product: bool = False,
) -> Page:
    """One page of the tab in queue order (one query; the count comes from ``tab_counts``)."""
    rows = queryset.filter(TAB_FILTERS[tab])
    if with_product:  # select mode names the product in "different product" reasons
        rows = rows.select_related("product").only(*ROW_FIELDS, "plan_contract", "product__name")
    else:
        rows = rows.only(*ROW_FIELDS)
    if sort_matches:
        # A search with few matches: take them through the trigram indexes and sort them
        # (top-N) instead of walking the whole queue-order index filtering every row.
        rows = rows.order_by(
            (F("severity_rank") + 0).desc(), (F("monthly_impact") + 0).desc(), Concat("client_name", Value("")), "id"
        )
    else:
        rows = rows.order_by(*QUEUE_ORDER)
    return KnownCountPaginator(rows, per_page, count=count).get_page(page_number)


def latest_run() -> DetectionRun | None:
    return DetectionRun.objects.order_by("-started_at", "-id").first()


def opportunity_for_detail(pk: int) -> Opportunity:
    return Opportunity.objects.select_related(
        "client", "product", "plan_product", "plan_contract", "plan_line__product", "applied_by"
    ).get(pk=pk)


def unmapped_devices():
    """Devices no rule maps to a product and none excludes: they cannot be billed as they are."""
    return Device.objects.filter(mapped_product__isnull=True, excluded=False)


def unmapped_subscriptions():
    """Active subscriptions with seats that no rule maps (nor says to leave alone)."""
    return Subscription.objects.filter(
        mapped_product__isnull=True, mapping_rule__isnull=True, status=SubscriptionStatus.ACTIVE, quantity__gt=0
    )


def _unmapped_filter(opp: Opportunity) -> tuple[str, str]:
    kind, _, value = opp.source_key.partition(":")
    return kind, value


def related_devices(opp: Opportunity) -> list:
    qs = Device.objects.filter(client_id=opp.client_id)
    if opp.kind == OpportunityKind.UNMAPPED:
        kind, value = _unmapped_filter(opp)
        if kind != "device_type":
            return []
        qs = unmapped_devices().filter(client_id=opp.client_id, device_type=value)
    elif opp.product_id:
        qs = qs.filter(mapped_product_id=opp.product_id)
    else:
        return []
    return list(qs.order_by("hostname")[:RELATED_LIMIT])


def related_subscriptions(opp: Opportunity) -> list:
    qs = Subscription.objects.filter(client_id=opp.client_id)
    if opp.kind == OpportunityKind.UNMAPPED:
        kind, value = _unmapped_filter(opp)
        if kind != "sku":
            return []
        qs = qs.filter(vendor_sku__iexact=value, mapped_product__isnull=True)
    elif opp.product_id:
        qs = qs.filter(mapped_product_id=opp.product_id)
    else:
        return []
    return list(qs.order_by("product_name")[:RELATED_LIMIT])


def related_lines(opp: Opportunity) -> list:
    """Lines of the client's in-force contracts billing the product, plus the plan's line."""
    cond = Q(pk=opp.plan_line_id) if opp.plan_line_id else Q(pk__in=[])
    if opp.product_id:
        cond |= Q(product_id=opp.product_id)
    return list(
        ContractLine.objects.in_force()
        .filter(contract__client_id=opp.client_id)
        .filter(cond)
        .select_related("contract", "product")
        .order_by("contract__number", "id")[:RELATED_LIMIT]
    )


def history(opp: Opportunity) -> list:
    return list(OpportunityEvent.objects.filter(opportunity=opp).select_related("actor").order_by("-created_at", "-id"))


def needs_attention() -> dict:
    """Home card: open count, their total impact and how many are ready to apply (the cached grouped counts)."""
    counts = tab_counts(None)
    return {"open": counts["all"].count, "impact": counts["all"].impact, "ready": counts["ready"].count}


def client_summary(client_id: int) -> dict:
    """Client page panel: the client's open count and impact (one query)."""
    return Opportunity.objects.filter(client_id=client_id, state=OpportunityState.OPEN).aggregate(
        open=Count("id"), impact=Coalesce(Sum("monthly_impact"), ZERO)
    )


# --- Mapping rules ---------------------------------------------------------------------------

UNMAPPED_SHOWN = 50


def rules_signature() -> str:
    """Changes whenever a rule is created, changed (active or not) or deleted."""
    seen = MappingRule.objects.aggregate(n=Count("id"), top=Max("id"), latest=Max("updated_at"))
    return f"{seen['n']}:{seen['top']}:{seen['latest'].isoformat() if seen['latest'] else ''}"


def rule_match_counts(rules) -> dict[int, int]:
    """How many current source items each rule matches (the mapping each item got from the last run)."""
    ids = [r.pk for r in rules]
    counts = dict.fromkeys(ids, 0)
    for model in (Device, Subscription):
        grouped = model.objects.filter(mapping_rule_id__in=ids).values_list("mapping_rule_id").annotate(n=Count("pk"))
        for rule_id, n in grouped.order_by():
            counts[rule_id] += n
    return counts


def rules_with_matches() -> list[MappingRule]:
    """Every rule, each with ``matches``: the items it maps now, or for a migration rule the
    in-force lines still billing the old product (four queries: rules, devices, subscriptions, lines)."""
    rules = list(MappingRule.objects.select_related("client", "product", "from_product"))
    counts = rule_match_counts(rules)
    migration_from = [r.from_product_id for r in rules if r.kind == RuleKind.MIGRATION]
    lines = dict(
        ContractLine.objects.in_force(org_today())
        .filter(product_id__in=migration_from)
        .values_list("product_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for rule in rules:
        rule.matches = lines.get(rule.from_product_id, 0) if rule.kind == RuleKind.MIGRATION else counts[rule.pk]
    return rules


def largest_unmapped_groups() -> tuple[list, list]:
    """The largest groups of unmapped devices (client, type) and subscriptions (client, SKU)."""
    devices = list(
        unmapped_devices()
        .values("client_id", "client__name", "device_type")
        .annotate(n=Count("pk"))
        .order_by("-n", "client__name", "device_type")[:UNMAPPED_SHOWN]
    )
    subscriptions = list(
        unmapped_subscriptions()
        .values("client_id", "client__name", "vendor_sku", "product_name")
        .annotate(seats=Sum("quantity"))
        .order_by("-seats", "client__name", "vendor_sku")[:UNMAPPED_SHOWN]
    )
    return devices, subscriptions


# --- Imports, runs, bulk applies, notifications ------------------------------------------------


def import_history(page_number, *, per_page: int) -> Page:
    return Paginator(SourceImport.objects.select_related("uploaded_by"), per_page).get_page(page_number)


def import_for_page(pk: int) -> SourceImport | None:
    related = ("uploaded_by", "committed_by", "detection_run")
    return SourceImport.objects.select_related(*related).filter(pk=pk).first()


def progress_of(imp: SourceImport) -> int:
    """How far a busy import has got (the worker reports to the cache; the record when it is gone)."""
    if not imp.is_busy:
        return imp.progress
    value = cache.get(imp.progress_key)
    return imp.progress if value is None else int(value)


def summary_counts() -> dict:
    """How many items each source holds now (for the imports page). Contract lines: the imported
    segments not ended before today (an import ends a gone line and keeps it, as history)."""
    not_ended = Q(end_date__isnull=True) | Q(end_date__gte=org_today())
    return {
        ImportSource.DEVICES: Device.objects.count(),
        ImportSource.SUBSCRIPTIONS: Subscription.objects.count(),
        ImportSource.CONTRACT_LINES: ContractLine.objects.exclude(external_id="").filter(not_ended).count(),
    }


def run_history(page_number, *, per_page: int) -> Page:
    """Runs, newest first; a run shared by workers counts its finished chunks (``chunks_done``)."""
    finished = Count("chunks", filter=~Q(chunks__status=DetectionChunk.Status.PENDING))
    runs = (
        DetectionRun.objects.select_related("triggered_by")
        .annotate(chunks_done=finished)
        .order_by("-started_at", "-id")
    )
    return Paginator(runs, per_page).get_page(page_number)


def bulk_for_page(pk: int) -> tuple[BulkApply | None, object]:
    """A bulk apply and its items in item order (only what the progress page shows)."""
    bulk = BulkApply.objects.select_related("created_by", "product").filter(pk=pk).first()
    items = (
        BulkApplyItem.objects.filter(bulk_id=pk)
        .select_related("opportunity")
        .only("id", "state", "message", "opportunity__id", "opportunity__client_name", "opportunity__description")
        .order_by("id")
    )
    return bulk, items


def bulk_with_key(key: str) -> BulkApply | None:
    return BulkApply.objects.filter(idempotency_key=key.strip()).first()


def bulk_progress(bulk: BulkApply) -> dict:
    """Counts per item state in one query."""
    counts = BulkApplyItem.objects.filter(bulk=bulk).aggregate(
        total=Count("id"),
        applied=Count("id", filter=Q(state=BulkApplyItem.State.APPLIED)),
        failed=Count("id", filter=Q(state=BulkApplyItem.State.FAILED)),
        pending=Count("id", filter=Q(state=BulkApplyItem.State.PENDING)),
    )
    counts["done"] = counts["applied"] + counts["failed"]
    counts["percent"] = int(100 * counts["done"] / counts["total"]) if counts["total"] else 100
    return counts


def unread_count(user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
