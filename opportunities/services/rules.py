"""Mapping rules: matching source items to products (in SQL), and the writes Admins make to rules.

Matching runs in the database: the active rules (tens to hundreds of rows) become one
``CASE`` expression, ordered so that a client-specific rule beats any global one and,
within a scope, the lower priority (then the older rule) wins. Detection evaluates it
over a chunk's devices or subscriptions and reads back only aggregates and changed rows.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from ..models import MappingRule, RuleKind
from ..models.rules import MAX_NOT_SEEN_DAYS


@dataclass(frozen=True)
class Rule:
    id: int
    kind: str
    client_id: int | None
    priority: int
    device_type: str
    hostname_pattern: str
    vendor_sku: str
    from_product_id: int | None
    product_id: int | None
    exclude: bool
    not_seen_days: int | None

    @property
    def outcome(self) -> tuple[int | None, bool]:
        """(product the matched item bills as, excluded?)."""
        return (None, True) if self.exclude else (self.product_id, False)


def like_pattern(shell_pattern: str) -> str:
    """A shell-style pattern (``LAB-*``, ``WS-??``) as a lower-case SQL LIKE pattern (escape ``\\``)."""
    out = []
    for ch in shell_pattern.lower():
        if ch in "\\%_":
            out.append("\\" + ch)
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        else:
            out.append(ch)
    return "".join(out)


class RuleBook:
    """The active rules of one run (one query), and the SQL that applies them."""

    def __init__(self, now=None):
        self.now = now or timezone.now()
        self.by_id = {}
        self.migrations = {}  # (client_id | None, from_product_id) -> (priority, id, to_product_id)
        wanted = [name for name in Rule.__dataclass_fields__]
        for row in MappingRule.objects.filter(active=True).values_list(*wanted):
            rule = Rule(*row)
            self.by_id[rule.id] = rule
            if rule.kind == RuleKind.MIGRATION:
                key = (rule.client_id, rule.from_product_id)
                candidate = (rule.priority, rule.id, rule.product_id)
                if key not in self.migrations or candidate < self.migrations[key]:
                    self.migrations[key] = candidate

    def outcome_of(self, rule_id) -> tuple[int | None, bool]:
        """(product, excluded?) of the rule an item matched; (None, False) when it matched none."""
        rule = self.by_id.get(rule_id)
        return rule.outcome if rule is not None else (None, False)

    def _ordered(self, kind, client_ids):
        scope = set(client_ids)
        rules = [r for r in self.by_id.values() if r.kind == kind and (r.client_id is None or r.client_id in scope)]
        return sorted(rules, key=lambda r: (r.client_id is None, r.priority, r.id))

    def device_case(self, client_ids, alias="d"):
        """SQL (and params) for the id of the rule that maps each device, NULL when none does."""
        return self._case(RuleKind.DEVICE, client_ids, alias, self._device_conditions)

    def sku_case(self, client_ids, alias="s"):
        """SQL (and params) for the id of the rule that maps each subscription, NULL when none does."""
        return self._case(RuleKind.SUBSCRIPTION, client_ids, alias, self._sku_conditions)

    def _case(self, kind, client_ids, alias, conditions):
        """``CASE WHEN <the first rule that matches> THEN its id … END``, rules in priority order."""
        whens, params = [], []
        for rule in self._ordered(kind, client_ids):
            conds = [(f"{alias}.client_id = %s", rule.client_id)] if rule.client_id is not None else []
            conds += conditions(rule, alias)
            params += [value for _sql, value in conds]
            whens.append(f"WHEN {' AND '.join(sql for sql, _value in conds) or '1 = 1'} THEN {int(rule.id)}")
        return (f"(CASE {' '.join(whens)} END)" if whens else "CAST(NULL AS integer)"), params

    def _device_conditions(self, rule, alias) -> list[tuple[str, object]]:
        conds = []
        if rule.device_type:
            conds.append((f"{alias}.device_type = %s", rule.device_type))
        if rule.hostname_pattern:
            conds.append((f"lower({alias}.hostname) LIKE %s ESCAPE '\\'", like_pattern(rule.hostname_pattern)))
        if rule.not_seen_days is not None:
            # A stored rule never breaks a run: the database refuses more than MAX_NOT_SEEN_DAYS, and a
            # row written before that rule existed is read as MAX_NOT_SEEN_DAYS.
            days = min(rule.not_seen_days, MAX_NOT_SEEN_DAYS)
            cutoff = connection.ops.adapt_datetimefield_value(self.now - dt.timedelta(days=days))
            conds.append((f"({alias}.last_seen IS NULL OR {alias}.last_seen < %s)", cutoff))
        return conds

    @staticmethod
    def _sku_conditions(rule, alias) -> list[tuple[str, object]]:
        return [(f"upper(trim({alias}.vendor_sku)) = %s", rule.vendor_sku.strip().upper())] if rule.vendor_sku else []

    def migration_for(self, client_id, product_id) -> tuple[int, int] | None:
        """(rule id, replacement product id) for a product on this client's lines, or None."""
        found = self.migrations.get((client_id, product_id)) or self.migrations.get((None, product_id))
        return (found[1], found[2]) if found else None


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
