"""Reconciliation: sources (devices, subscriptions) against billing (contract lines).

Set-based. Clients are taken in chunks (``CHUNK_SIZE``); for each chunk a fixed
number of queries reads the clients, their devices, subscriptions, in-force
contracts and lines, and their existing opportunities as tuples; mapping and
comparison happen in memory; writes are bulk (``UPDATE ... FROM (VALUES ...)`` on
PostgreSQL, ``bulk_update`` elsewhere; ``bulk_create`` for new rows). Nothing is
written for a row whose values did not change, so a re-run with nothing changed
writes nothing but the run record.

Identity of an opportunity: (client, kind, source_key) — see the model.
"""

import datetime as dt
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billingone.text import clip
from clients.dates import org_today
from clients.models import Client, Contract, ContractLine, Product
from clients.money import ZERO, quantize

from ..models import (
    SEVERITY_RANK,
    DetectionRun,
    DetectionSettings,
    Device,
    MappingRule,
    Opportunity,
    OpportunityEvent,
    OpportunityKind,
    OpportunityState,
    PlanAction,
    Severity,
    Subscription,
    SubscriptionStatus,
)
from ..signals import detection_finished
from .rules import RuleBook

CHUNK_SIZE = 500
WRITE_BATCH = 2000

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
ACTIVE_STATES = (OpportunityState.OPEN, OpportunityState.REVIEWED, OpportunityState.SNOOZED)


@dataclass
class Totals:
    clients: int = 0
    devices: int = 0
    subscriptions: int = 0
    lines: int = 0
    created: int = 0
    updated: int = 0
    resolved: int = 0
    unchanged: int = 0
    created_ids: list = field(default_factory=list)
    reopened_ids: list = field(default_factory=list)

    def add(self, other: "Totals"):
        """Fold a chunk's totals into the run's."""
        for name in ("clients", "devices", "subscriptions", "lines", "created", "updated", "resolved", "unchanged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.created_ids += other.created_ids
        self.reopened_ids += other.reopened_ids


def severity_for(impact: Decimal, thresholds: DetectionSettings) -> str:
    if impact >= Decimal(str(thresholds.high_threshold)):
        return Severity.HIGH
    if impact >= Decimal(str(thresholds.medium_threshold)):
        return Severity.MEDIUM
    return Severity.LOW


def _plural(n, word, plural=None):
    return f"{n} {word if n == 1 else (plural or word + 's')}"


# --- Public entry points ------------------------------------------------------------------


def run_detection(*, trigger: str, client_ids=None, actor=None, today: dt.date | None = None) -> DetectionRun:
    """Reconcile every client (or those in ``client_ids``) and record the run.

    Each chunk of clients commits on its own, so a huge run never holds one giant
    transaction; a chunk is safe to run twice. The run ends with the
    ``detection_finished`` signal (created and reopened opportunity ids).
    """
    started = time.monotonic()
    run = DetectionRun.objects.create(
        trigger=trigger, client_ids=sorted(set(client_ids)) if client_ids else None, triggered_by=actor
    )
    today = today or org_today()
    totals = Totals()
    try:
        thresholds = DetectionSettings.current()
        products = {p[0]: p for p in Product.objects.values_list("id", "name", "unit_price", "sku")}
        rules = RuleBook()
        ids_qs = Client.objects.order_by("pk").values_list("pk", flat=True)
        if client_ids:
            ids_qs = ids_qs.filter(pk__in=client_ids)
        all_ids = list(ids_qs)
        chunks = [all_ids[start : start + CHUNK_SIZE] for start in range(0, len(all_ids), CHUNK_SIZE)]
        context = {"run": run, "rules": rules, "products": products, "thresholds": thresholds, "today": today}
        threads = _threads(len(chunks))
        if threads == 1:
            for chunk in chunks:
                _run_chunk(chunk, context, totals)
        else:
            # Chunks are independent (each its own transaction over its own clients), so on
            # PostgreSQL a few connections take them side by side.
            with ThreadPoolExecutor(max_workers=threads) as pool:
                for chunk_totals in pool.map(
                    lambda chunk: _run_chunk(chunk, context, Totals(), own_connection=True), chunks
                ):
                    totals.add(chunk_totals)
    except Exception as exc:
        DetectionRun.objects.filter(pk=run.pk).update(
            status=DetectionRun.Status.FAILED,
            error=clip(f"{type(exc).__name__}: {exc}", 2000),
            finished_at=timezone.now(),
            duration_ms=int((time.monotonic() - started) * 1000),
            **_count_fields(totals),
        )
        raise
    with transaction.atomic():
        for name, value in _count_fields(totals).items():
            setattr(run, name, value)
        run.status = DetectionRun.Status.SUCCEEDED
        run.finished_at = timezone.now()
        run.duration_ms = int((time.monotonic() - started) * 1000)
        run.save()
        detection_finished.send(
            sender=DetectionRun, run=run, created_ids=totals.created_ids, reopened_ids=totals.reopened_ids
        )
    return run


def _threads(chunks: int) -> int:
    """Connections for a run: settings.DETECTION_THREADS on PostgreSQL outside a transaction, else 1."""
    if connection.vendor != "postgresql" or connection.in_atomic_block or chunks < 2:
        return 1  # SQLite has one writer; inside a transaction other connections would not see its rows
    return max(1, min(chunks, int(getattr(settings, "DETECTION_THREADS", 2))))


def _run_chunk(chunk, context, totals, *, own_connection=False):
    try:
        with transaction.atomic():
            _detect_chunk(chunk, totals=totals, **context)
        return totals
    finally:
        if own_connection:
            connection.close()


def _count_fields(totals: Totals) -> dict:
    return {
        "clients_examined": totals.clients,
        "devices_examined": totals.devices,
        "subscriptions_examined": totals.subscriptions,
        "lines_examined": totals.lines,
        "created": totals.created,
        "updated": totals.updated,
        "resolved": totals.resolved,
        "unchanged": totals.unchanged,
    }


# --- One chunk -----------------------------------------------------------------------------


def _detect_chunk(chunk, *, run, rules, products, thresholds, today, totals):
    # 1. Lock the chunk's clients in pk order: two runs over the same clients take turns.
    clients = dict(Client.objects.select_for_update().filter(pk__in=chunk).order_by("pk").values_list("pk", "name"))
    totals.clients += len(clients)
    ids = list(clients)

    # expected[(client, product)] = [devices, seats]
    expected = defaultdict(lambda: [0, 0])
    unmapped = defaultdict(lambda: [0, ""])  # (client, source_key) -> [quantity, label]
    id_list = ", ".join(["%s"] * len(ids))

    # 2. Devices: the rules run in SQL, grouped with each device's stored mapping, so one scan
    #    gives the counts and tells whether any stored mapping is stale.
    case, case_params = rules.device_case(ids)
    stale = False
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT d.client_id, d.device_type, {case} AS rule_id, d.mapped_product_id, d.mapping_rule_id,
                       d.excluded, COUNT(*)
                FROM {Device._meta.db_table} d WHERE d.client_id IN ({id_list}) GROUP BY 1, 2, 3, 4, 5, 6""",
            [*case_params, *ids],
        )
        for client_id, device_type, rule_id, cur_product, cur_rule, cur_excluded, count in cursor.fetchall():
            totals.devices += count
            rule = rules.by_id.get(rule_id)
            product_id, excluded = rule.outcome if rule is not None else (None, False)
            stale = stale or (product_id, rule_id, excluded) != (cur_product, cur_rule, bool(cur_excluded))
            if excluded:
                continue
            if product_id is not None:
                expected[(client_id, product_id)][0] += count
            else:
                entry = unmapped[(client_id, f"device_type:{device_type}")]
                entry[0] += count
                entry[1] = device_type
    if stale:  # one set-based UPDATE of exactly the rows whose mapping changed
        _remap(Device, ids, case, case_params, with_excluded=True, alias="d")

    # 3. Subscriptions: mapped by SKU in SQL; only active seats count.
    case, case_params = rules.sku_case(ids)
    stale = False
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT s.client_id, upper(trim(s.vendor_sku)), {case} AS rule_id, s.mapped_product_id,
                       s.mapping_rule_id, COUNT(*),
                       SUM(CASE WHEN s.status = %s AND s.quantity > 0 THEN s.quantity ELSE 0 END), MIN(s.product_name)
                FROM {Subscription._meta.db_table} s WHERE s.client_id IN ({id_list}) GROUP BY 1, 2, 3, 4, 5""",
            [*case_params, SubscriptionStatus.ACTIVE, *ids],
        )
        for client_id, sku, rule_id, cur_product, cur_rule, count, seats, name in cursor.fetchall():
            totals.subscriptions += count
            rule = rules.by_id.get(rule_id)
            product_id, excluded = rule.outcome if rule is not None else (None, False)
            stale = stale or (product_id, rule_id) != (cur_product, cur_rule)
            if not seats or excluded:
                continue
            if product_id is not None:
                expected[(client_id, product_id)][1] += seats
            else:
                entry = unmapped[(client_id, f"sku:{sku}")]
                entry[0] += seats
                entry[1] = name
    if stale:
        _remap(Subscription, ids, case, case_params, with_excluded=False, alias="s")

    # 4. The billed side: in-force contracts and their lines.
    contracts = defaultdict(list)
    for contract_id, client_id, number in (
        Contract.objects.in_force(today)
        .filter(client_id__in=ids)
        .order_by("pk")
        .values_list("pk", "client_id", "number")
    ):
        contracts[client_id].append((contract_id, number))
    lines = defaultdict(list)  # (client, product) -> [(line, contract, number, qty, price, product)]
    for line_id, contract_id, number, client_id, product_id, qty, price in (
        ContractLine.objects.in_force(today)
        .filter(contract__client_id__in=ids)
        .order_by("pk")
        .values_list(
            "pk", "contract_id", "contract__number", "contract__client_id", "product_id", "quantity", "unit_price"
        )
    ):
        totals.lines += 1
        lines[(client_id, product_id)].append((line_id, contract_id, number, qty, price, product_id))

    # 5. What the opportunities should say now.
    wanted = {}  # (client, kind, key) -> dict of FIGURE_FIELDS
    migrated_billing = defaultdict(list)  # (client, new product) -> lines of the retired product
    for (client_id, product_id), product_lines in lines.items():
        migration = rules.migration_for(client_id, product_id)
        if not migration:
            continue
        _rule_id, new_product_id = migration
        migrated_billing[(client_id, new_product_id)].extend(product_lines)
        wanted[(client_id, OpportunityKind.UNMIGRATED, f"product:{product_id}")] = _unmigrated(
            clients[client_id], product_lines, products[product_id], products.get(new_product_id)
        )
    for (client_id, product_id), (devices, seats) in expected.items():
        direct = lines.get((client_id, product_id), [])
        via_old = migrated_billing.get((client_id, product_id), [])
        billed = sum(line[3] for line in direct) + sum(line[3] for line in via_old)
        need = devices + seats
        if need <= billed:
            continue
        args = (clients[client_id], products[product_id], devices, seats, billed)
        if billed == 0:
            figures = _unbilled(*args, contracts.get(client_id, []))
            kind = OpportunityKind.UNBILLED
        else:
            figures = _quantity_gap(*args, direct, via_old, products)
            kind = OpportunityKind.QUANTITY_GAP
        wanted[(client_id, kind, f"product:{product_id}")] = figures
    for (client_id, key), (quantity, label) in unmapped.items():
        wanted[(client_id, OpportunityKind.UNMAPPED, key)] = _unmapped(clients[client_id], key, quantity, label)
    for figures in wanted.values():
        impact = figures["monthly_impact"]
        figures["severity"] = severity_for(impact, thresholds)
        figures["severity_rank"] = SEVERITY_RANK[figures["severity"]]

    # 6. Compare with what exists, then write only the differences.
    _reconcile(ids, wanted, run=run, today=today, totals=totals)


# --- Figures per kind ------------------------------------------------------------------------


def _base(client_name, product_id, expected, billed, impact):
    return {
        "client_name": client_name,
        "product_id": product_id,
        "expected_quantity": expected,
        "billed_quantity": billed,
        "monthly_impact": quantize(max(impact, ZERO)),
        "ready_to_apply": False,
        "not_ready_reason": "",
        "plan_action": "",
        "plan_contract_id": None,
        "plan_line_id": None,
        "plan_product_id": None,
        "plan_from_quantity": None,
        "plan_to_quantity": None,
        "plan_unit_price": None,
        "plan_monthly_delta": None,
    }


def _sources_text(devices, seats):
    parts = []
    if devices:
        parts.append(f"the RMM shows {_plural(devices, 'device')}")
    if seats:
        parts.append(f"the distributor shows {_plural(seats, 'seat')}")
    return " and ".join(parts)


def _unbilled(client_name, product, devices, seats, billed, client_contracts):
    product_id, name, price, _sku = product
    need = devices + seats
    figures = _base(client_name, product_id, need, 0, need * price)
    figures.update(
        description=f"{_plural(need, 'unit')} of {name} in use but not billed",
        root_cause=f"For {name}, {_sources_text(devices, seats)}, but no contract in force bills this product.",
        suggested_action=f"Add a line: {need} × {name}",
        plan_action=PlanAction.ADD_LINE,
        plan_product_id=product_id,
        plan_to_quantity=need,
        plan_unit_price=price,
        plan_monthly_delta=quantize(need * price),
    )
    if len(client_contracts) == 1:
        figures.update(ready_to_apply=True, plan_contract_id=client_contracts[0][0])
    elif not client_contracts:
        figures["not_ready_reason"] = "The client has no contract in force to add the line to."
    else:
        numbers = ", ".join(number for _pk, number in client_contracts)
        figures["not_ready_reason"] = (
            f"The client has {len(client_contracts)} contracts in force ({numbers}); choose which one bills it."
        )
    if figures["not_ready_reason"]:
        figures["root_cause"] += " " + figures["not_ready_reason"]
    return figures


def _quantity_gap(client_name, product, devices, seats, billed, direct, via_old, products):
    product_id, name, list_price, _sku = product
    need = devices + seats
    gap = need - billed
    price = direct[0][4] if len(direct) == 1 else list_price
    figures = _base(client_name, product_id, need, billed, gap * price)
    figures.update(
        description=f"Billing {billed} × {name}, sources show {need} ({gap} short)",
        root_cause=f"For {name}, {_sources_text(devices, seats)}; contracts in force bill {billed}.",
        suggested_action=f"Raise the quantity by {gap} to {need}",
        plan_action=PlanAction.RAISE_QUANTITY,
        plan_product_id=product_id,
        plan_unit_price=price,
        plan_monthly_delta=quantize(gap * price),
    )
    if len(direct) == 1 and not via_old:
        line_id, contract_id, _number, qty, _price, _product = direct[0]
        figures.update(
            ready_to_apply=True,
            plan_contract_id=contract_id,
            plan_line_id=line_id,
            plan_from_quantity=qty,
            plan_to_quantity=qty + gap,
        )
    elif via_old:
        old_names = sorted({products[line[5]][1] for line in via_old})
        figures["not_ready_reason"] = (
            f"Part of it is billed on a retired product ({', '.join(old_names)}); migrate that line first."
        )
    else:
        numbers = ", ".join(sorted({line[2] for line in direct}))
        figures["not_ready_reason"] = (
            f"{name} is billed on {len(direct)} lines ({numbers}); choose which line to raise."
        )
    if figures["not_ready_reason"]:
        figures["root_cause"] += " " + figures["not_ready_reason"]
    return figures


def _unmigrated(client_name, product_lines, old, new):
    old_id, old_name, _old_price, _sku = old
    qty = sum(line[3] for line in product_lines)
    billed_now = sum((line[3] * line[4] for line in product_lines), ZERO)
    if new is None:  # the replacement was deleted from the catalogue; nothing to plan
        figures = _base(client_name, old_id, qty, qty, ZERO)
        figures.update(
            description=f"Still billing retired {old_name}",
            root_cause=f"A migration rule retires {old_name}, but its replacement no longer exists.",
            suggested_action="Fix the migration rule",
            not_ready_reason="The migration rule's replacement product no longer exists.",
        )
        return figures
    new_id, new_name, new_price, _new_sku = new
    delta = qty * new_price - billed_now
    figures = _base(client_name, old_id, qty, qty, delta)
    figures.update(
        description=f"Still billing retired {old_name} ({qty}); migrate to {new_name}",
        root_cause=f"A migration rule retires {old_name} in favour of {new_name}; "
        f"{_plural(len(product_lines), 'line')} in force still bill{'s' if len(product_lines) == 1 else ''} it.",
        suggested_action=f"Migrate to {new_name}",
        plan_action=PlanAction.MIGRATE_PRODUCT,
        plan_product_id=new_id,
        plan_unit_price=new_price,
        plan_monthly_delta=quantize(delta),
    )
    if len(product_lines) == 1:
        line_id, contract_id, _number, line_qty, _price, _product = product_lines[0]
        figures.update(
            ready_to_apply=True,
            plan_contract_id=contract_id,
            plan_line_id=line_id,
            plan_from_quantity=line_qty,
            plan_to_quantity=line_qty,
        )
    else:
        numbers = ", ".join(sorted({line[2] for line in product_lines}))
        figures["not_ready_reason"] = f"{old_name} is billed on {len(product_lines)} lines ({numbers}); migrate each."
        figures["root_cause"] += " " + figures["not_ready_reason"]
    return figures


def _unmapped(client_name, key, quantity, label):
    what, value = key.split(":", 1)
    figures = _base(client_name, None, quantity, 0, ZERO)
    if what == "device_type":
        description = f"{_plural(quantity, value + ' device')} match{'es' if quantity == 1 else ''} no mapping rule"
        cause = f"The RMM reports {_plural(quantity, value + ' device')} that no device rule maps to a product."
    else:
        description = f"Subscription {value} ({label}) × {quantity} matches no mapping rule"
        cause = f"The distributor reports {_plural(quantity, 'seat')} of SKU {value} ({label}) that no rule maps."
    figures.update(
        description=clip(description, 300),
        root_cause=cause + " Unmapped items cannot be billed until a rule says what they are.",
        suggested_action="Create a mapping rule",
        plan_action=PlanAction.CREATE_RULE,
        not_ready_reason="Unmapped items need a mapping rule before anything can be applied.",
    )
    return figures


# --- Writing the differences -------------------------------------------------------------------


def _reconcile(client_ids, wanted, *, run, today, totals):
    now = timezone.now()
    # Tuples, not model instances: most rows are unchanged and need no object at all.
    existing = {
        (row[1], row[2], row[3]): row
        for row in Opportunity.objects.filter(client_id__in=client_ids).order_by("pk").values_list(*ROW_FIELDS)
    }
    to_create, to_update, events = [], [], []
    reopened = []
    for identity, figures in wanted.items():
        row = existing.pop(identity, None)
        if row is None:
            client_id, kind, key = identity
            opp = Opportunity(
                client_id=client_id,
                kind=kind,
                source_key=key,
                state=OpportunityState.OPEN,
                last_run=run,
                first_detected_at=now,
                last_detected_at=now,
                **figures,
            )
            to_create.append(opp)
            continue
        changed = [name for name, value in zip(FIGURE_FIELDS, row[7:-1], strict=True) if value != figures[name]]
        state, snoozed_until = row[4], row[5]
        snooze_over = state == OpportunityState.SNOOZED and snoozed_until and snoozed_until <= today
        if not changed and state not in (OpportunityState.RESOLVED, OpportunityState.APPLIED) and not snooze_over:
            totals.unchanged += 1
            continue
        opp = Opportunity(**dict(zip(ROW_FIELDS, row, strict=True)))
        for name in changed:
            setattr(opp, name, figures[name])
        old_state = opp.state
        action, note = None, ""
        if old_state in (OpportunityState.RESOLVED, OpportunityState.APPLIED):
            opp.state, action, note = OpportunityState.OPEN, OpportunityEvent.Action.REOPENED, "The gap is back."
        elif old_state == OpportunityState.SNOOZED and opp.snoozed_until and opp.snoozed_until <= today:
            opp.state, opp.snoozed_until = OpportunityState.OPEN, None
            action, note = OpportunityEvent.Action.UNSNOOZED, "Snooze date reached."
        elif old_state == OpportunityState.REVIEWED and changed and opp.figures_signature() != opp.reviewed_signature:
            opp.state, action, note = OpportunityState.OPEN, OpportunityEvent.Action.REOPENED, "Its figures changed."
        elif changed and old_state == OpportunityState.OPEN:
            action = OpportunityEvent.Action.UPDATED
            note = "Changed: " + ", ".join(name.replace("_id", "").replace("_", " ") for name in changed)
        if not changed and action is None:
            totals.unchanged += 1
            continue
        if old_state == OpportunityState.IGNORED and action is None:
            # Ignored for good: its figures are kept current, silently.
            pass
        opp.last_run, opp.last_detected_at, opp.updated_at = run, now, now
        to_update.append(opp)
        totals.updated += 1
        if action is not None:
            events.append(
                OpportunityEvent(
                    opportunity=opp,
                    action=action,
                    from_state=old_state,
                    to_state=opp.state,
                    note=clip(note, 500),
                    run=run,
                )
            )
            if action in (OpportunityEvent.Action.REOPENED, OpportunityEvent.Action.UNSNOOZED):
                reopened.append(opp)
    # What is no longer wanted: an active gap that closed by itself.
    for row in existing.values():
        if row[4] not in ACTIVE_STATES:
            continue
        opp = Opportunity(**dict(zip(ROW_FIELDS, row, strict=True)))
        events.append(
            OpportunityEvent(
                opportunity=opp,
                action=OpportunityEvent.Action.RESOLVED,
                from_state=opp.state,
                to_state=OpportunityState.RESOLVED,
                note="The sources and the contracts agree now.",
                run=run,
            )
        )
        opp.state, opp.snoozed_until, opp.last_run, opp.updated_at = OpportunityState.RESOLVED, None, run, now
        to_update.append(opp)
        totals.resolved += 1

    if to_create:
        Opportunity.objects.bulk_create(to_create, batch_size=WRITE_BATCH)
        if to_create[0].pk is None:  # a backend that cannot return ids from a bulk insert
            keys = {(o.client_id, o.kind, o.source_key): o for o in to_create}
            for pk, client_id, kind, key in Opportunity.objects.filter(client_id__in=client_ids).values_list(
                "pk", "client_id", "kind", "source_key"
            ):
                if (client_id, kind, key) in keys:
                    keys[(client_id, kind, key)].pk = pk
        totals.created += len(to_create)
        totals.created_ids.extend(o.pk for o in to_create)
        events.extend(
            OpportunityEvent(
                opportunity=o, action=OpportunityEvent.Action.DETECTED, to_state=OpportunityState.OPEN, run=run
            )
            for o in to_create
        )
    if to_update:
        Opportunity.objects.bulk_update(
            to_update,
            [*FIGURE_FIELDS, "state", "snoozed_until", "last_run", "last_detected_at", "updated_at"],
            batch_size=500,
        )
    if events:
        OpportunityEvent.objects.bulk_create(events, batch_size=WRITE_BATCH)
    totals.reopened_ids.extend(o.pk for o in reopened)


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
    id_list = ", ".join(["%s"] * len(client_ids))
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
