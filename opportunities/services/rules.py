"""Mapping rules: matching source items to products, and the writes Admins make to rules.

Matching is done in memory over a chunk's rows (``values_list`` tuples): the rule set
is small (tens to hundreds of rows), the items are many, so each item is tried
against a pre-sorted, pre-compiled list. A client-specific rule always beats a
global one; within a scope the lower priority wins, then the older rule.
"""

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ..models import MappingRule, RuleKind


@dataclass(frozen=True)
class CompiledRule:
    id: int
    client_id: int | None
    priority: int
    device_type: str
    hostname_re: re.Pattern | None
    vendor_sku: str
    product_id: int | None
    exclude: bool
    not_seen_before: dt.datetime | None  # devices last seen before this (or never) match

    def matches_device(self, device_type: str, hostname: str, last_seen) -> bool:
        if self.device_type and self.device_type != device_type:
            return False
        if self.hostname_re is not None and not self.hostname_re.match(hostname or ""):
            return False
        if self.not_seen_before is not None and last_seen is not None and last_seen >= self.not_seen_before:
            return False
        return True

    def matches_sku(self, vendor_sku: str) -> bool:
        return not self.vendor_sku or self.vendor_sku == (vendor_sku or "").upper()


def _compile(rule_row, now) -> CompiledRule:
    (rid, client_id, priority, device_type, pattern, sku, product_id, exclude, not_seen_days) = rule_row
    return CompiledRule(
        id=rid,
        client_id=client_id,
        priority=priority,
        device_type=device_type or "",
        hostname_re=re.compile(fnmatch.translate(pattern.lower()), re.IGNORECASE) if pattern else None,
        vendor_sku=(sku or "").strip().upper(),
        product_id=product_id,
        exclude=exclude,
        not_seen_before=(now - dt.timedelta(days=not_seen_days)) if not_seen_days is not None else None,
    )


RULE_FIELDS = (
    "id",
    "client_id",
    "priority",
    "device_type",
    "hostname_pattern",
    "vendor_sku",
    "product_id",
    "exclude",
    "not_seen_days",
)


class RuleBook:
    """The active rules of one run, sorted for matching (one query)."""

    def __init__(self, now=None):
        now = now or timezone.now()
        by_kind = {kind: {} for kind in RuleKind.values}
        self.migrations = {}  # (client_id | None, from_product_id) -> (priority, id, to_product_id)
        rows = MappingRule.objects.filter(active=True).values_list("kind", "from_product_id", *RULE_FIELDS)
        for kind, from_product_id, *rest in rows:
            rule = _compile(rest, now)
            if kind == RuleKind.MIGRATION:
                key = (rule.client_id, from_product_id)
                candidate = (rule.priority, rule.id, rule.product_id)
                if key not in self.migrations or candidate < self.migrations[key]:
                    self.migrations[key] = candidate
            else:
                by_kind[kind].setdefault(rule.client_id, []).append(rule)
        for scoped in by_kind.values():
            for rules in scoped.values():
                rules.sort(key=lambda r: (r.priority, r.id))
        self._device = by_kind[RuleKind.DEVICE]
        self._subscription = by_kind[RuleKind.SUBSCRIPTION]

    def _candidates(self, scoped, client_id):
        return scoped.get(client_id, []) + scoped.get(None, [])

    def match_device(self, client_id, device_type, hostname, last_seen) -> CompiledRule | None:
        for rule in self._candidates(self._device, client_id):
            if rule.matches_device(device_type, hostname, last_seen):
                return rule
        return None

    def match_subscription(self, client_id, vendor_sku) -> CompiledRule | None:
        for rule in self._candidates(self._subscription, client_id):
            if rule.matches_sku(vendor_sku):
                return rule
        return None

    def migration_for(self, client_id, product_id) -> tuple[int, int] | None:
        """(rule id, replacement product id) for a product on this client's lines, or None."""
        found = self.migrations.get((client_id, product_id)) or self.migrations.get((None, product_id))
        return (found[1], found[2]) if found else None


def device_outcome(rule: CompiledRule | None) -> tuple[int | None, int | None, bool]:
    """(mapped_product_id, mapping_rule_id, excluded) for a device matched by ``rule``."""
    if rule is None:
        return (None, None, False)
    if rule.exclude:
        return (None, rule.id, True)
    return (rule.product_id, rule.id, False)


# --- Writes --------------------------------------------------------------------------------


@transaction.atomic
def save_rule(*, rule: MappingRule, actor=None) -> MappingRule:
    """Create or update a rule (already validated by its form); normalises the SKU."""
    rule.vendor_sku = (rule.vendor_sku or "").strip().upper()
    if rule.pk is None:
        rule.created_by = actor
    rule.full_clean()
    rule.save()
    return rule


@transaction.atomic
def delete_rule(*, rule: MappingRule) -> MappingRule:
    """Delete a rule; the next detection run re-maps what it matched."""
    rule.delete()
    return rule


def rule_match_counts(rules) -> dict[int, int]:
    """How many current source items each rule matches (the mapping each item got from the last run)."""
    from django.db.models import Count

    from ..models import Device, Subscription

    ids = [r.pk for r in rules]
    counts = dict.fromkeys(ids, 0)
    for model in (Device, Subscription):
        for rule_id, n in (
            model.objects.filter(mapping_rule_id__in=ids)
            .values_list("mapping_rule_id")
            .annotate(n=Count("id"))
            .order_by()
        ):
            counts[rule_id] += n
    return counts
