"""What the sources show, per client and product: mapped devices and active seats.

The mapping rules run in SQL, grouped with each item's stored mapping, so one scan per source and
chunk gives the counts and tells whether any stored mapping is stale; a stale chunk is remapped by
one set-based UPDATE of exactly the rows whose mapping changed.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection

from ...models import Device, MappingRule, Subscription, SubscriptionStatus

DEVICES, SEATS = 0, 1  # the two places of ``SourceCounts.expected``


@dataclass
class SourceCounts:
    """A chunk's sources: ``expected[(client, product)] = [devices, seats]`` and
    ``unmapped[(client, source key)] = [quantity, label]``."""

    expected: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    unmapped: dict = field(default_factory=lambda: defaultdict(lambda: [0, ""]))

    def add(self, client_id, product_id, slot: int, quantity: int, unmapped_key: str, label: str) -> None:
        """Count ``quantity`` for the product a rule mapped to, or as unmapped under its key."""
        if product_id is not None:
            self.expected[(client_id, product_id)][slot] += quantity
        else:
            entry = self.unmapped[(client_id, unmapped_key)]
            entry[0] += quantity
            entry[1] = label


def count_devices(ids, rules, counts: SourceCounts, totals) -> None:
    """Mapped devices per (client, product); devices no rule maps, per device type."""
    case, case_params = rules.device_case(ids)
    stale = False
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT d.client_id, d.device_type, {case} AS rule_id, d.mapped_product_id, d.mapping_rule_id,
                       d.excluded, COUNT(*)
                FROM {Device._meta.db_table} d WHERE d.client_id IN ({_placeholders(ids)}) GROUP BY 1, 2, 3, 4, 5, 6""",
            [*case_params, *ids],
        )
        for client_id, device_type, rule_id, cur_product, cur_rule, cur_excluded, count in cursor.fetchall():
            totals.devices += count
            product_id, excluded = rules.outcome_of(rule_id)
            stale = stale or (product_id, rule_id, excluded) != (cur_product, cur_rule, bool(cur_excluded))
            if not excluded:
                counts.add(client_id, product_id, DEVICES, count, f"device_type:{device_type}", device_type)
    if stale:
        _remap(Device, ids, case, case_params, with_excluded=True, alias="d")


def count_seats(ids, rules, counts: SourceCounts, totals) -> None:
    """Active seats per (client, product), mapped by SKU; seats no rule maps, per SKU."""
    case, case_params = rules.sku_case(ids)
    stale = False
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT s.client_id, upper(trim(s.vendor_sku)), {case} AS rule_id, s.mapped_product_id,
                       s.mapping_rule_id, COUNT(*),
                       SUM(CASE WHEN s.status = %s AND s.quantity > 0 THEN s.quantity ELSE 0 END), MIN(s.product_name)
                FROM {Subscription._meta.db_table} s WHERE s.client_id IN ({_placeholders(ids)})
                GROUP BY 1, 2, 3, 4, 5""",
            [*case_params, SubscriptionStatus.ACTIVE, *ids],
        )
        for client_id, sku, rule_id, cur_product, cur_rule, count, seats, name in cursor.fetchall():
            totals.subscriptions += count
            product_id, excluded = rules.outcome_of(rule_id)
            stale = stale or (product_id, rule_id) != (cur_product, cur_rule)
            if seats and not excluded:
                counts.add(client_id, product_id, SEATS, seats, f"sku:{sku}", name)
    if stale:
        _remap(Subscription, ids, case, case_params, with_excluded=False, alias="s")


def _placeholders(ids) -> str:
    return ", ".join(["%s"] * len(ids))


def _differs(a, b):
    """Null-safe "not equal" in this database's dialect."""
    return f"({a}) IS DISTINCT FROM ({b})" if connection.vendor == "postgresql" else f"({a}) IS NOT ({b})"


def _remap(model, client_ids, case, case_params, *, with_excluded, alias):
    """Store what the rules say now on the rows whose mapping differs: one UPDATE ... FROM.

    (The target is restricted to the chunk's clients too, so it is read through the client index
    instead of a scan of the whole table for every chunk.)"""
    table, rules_table, key = model._meta.db_table, MappingRule._meta.db_table, model._meta.pk.column
    sets = "mapped_product_id = m.product_id, mapping_rule_id = m.rule_id"
    differs = f"{_differs('t.mapped_product_id', 'm.product_id')} OR {_differs('t.mapping_rule_id', 'm.rule_id')}"
    if with_excluded:
        sets += ", excluded = m.excluded"
        differs += " OR t.excluded <> m.excluded"
    id_list = _placeholders(client_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {table} AS t SET {sets}
                FROM (SELECT x.{key}, x.rule_id, CASE WHEN r.exclude THEN NULL ELSE r.product_id END AS product_id,
                             COALESCE(r.exclude, FALSE) AS excluded
                      FROM (SELECT {alias}.{key}, {case} AS rule_id FROM {table} {alias}
                            WHERE {alias}.client_id IN ({id_list})) x
                      LEFT JOIN {rules_table} r ON r.id = x.rule_id) AS m
                WHERE t.{key} = m.{key} AND t.client_id IN ({id_list}) AND ({differs})""",
            [*case_params, *client_ids, *client_ids],
        )
