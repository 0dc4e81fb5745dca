"""What the opportunities of a chunk should say now: billed lines against the sources, per kind.

Each ``_unbilled`` / ``_quantity_gap`` / ``_unmigrated`` / ``_unmapped`` returns the figures an
opportunity of that kind holds (every field in ``FIGURE_FIELDS``), with its apply plan when the
target is unambiguous and the reason when it is not.
"""

from collections import defaultdict
from decimal import Decimal
from typing import NamedTuple

from billingone.text import clip
from clients.models import Contract, ContractLine
from clients.money import ZERO, quantize

from ...models import SEVERITY_RANK, DetectionSettings, OpportunityKind, PlanAction, Severity


class ProductRow(NamedTuple):
    id: int
    name: str
    unit_price: Decimal
    sku: str


class BilledLine(NamedTuple):
    """A contract line in force, as detection reads it."""

    line_id: int
    contract_id: int
    number: str
    quantity: int
    unit_price: Decimal
    product_id: int


def products_by_id(queryset) -> dict[int, ProductRow]:
    return {row[0]: ProductRow(*row) for row in queryset.values_list("id", "name", "unit_price", "sku")}


def severity_for(impact: Decimal, thresholds: DetectionSettings) -> str:
    if impact >= Decimal(str(thresholds.high_threshold)):
        return Severity.HIGH
    if impact >= Decimal(str(thresholds.medium_threshold)):
        return Severity.MEDIUM
    return Severity.LOW


def billed(ids, today, totals) -> tuple[dict, dict]:
    """In-force contracts per client ``[(id, number)]`` and lines per (client, product)."""
    contracts = defaultdict(list)
    for contract_id, client_id, number in (
        Contract.objects.in_force(today)
        .filter(client_id__in=ids)
        .order_by("pk")
        .values_list("pk", "client_id", "number")
    ):
        contracts[client_id].append((contract_id, number))
    lines = defaultdict(list)
    for line_id, contract_id, number, client_id, product_id, qty, price in (
        ContractLine.objects.in_force(today)
        .filter(contract__client_id__in=ids)
        .order_by("pk")
        .values_list(
            "pk", "contract_id", "contract__number", "contract__client_id", "product_id", "quantity", "unit_price"
        )
    ):
        totals.lines += 1
        lines[(client_id, product_id)].append(BilledLine(line_id, contract_id, number, qty, price, product_id))
    return contracts, lines


def wanted_figures(clients, counts, contracts, lines, *, rules, products, thresholds) -> dict:
    """``(client, kind, source key) -> figures`` for every gap the chunk shows now."""
    wanted = {}
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
    for (client_id, product_id), (devices, seats) in counts.expected.items():
        direct = lines.get((client_id, product_id), [])
        via_old = migrated_billing.get((client_id, product_id), [])
        billed_quantity = sum(line.quantity for line in direct) + sum(line.quantity for line in via_old)
        if devices + seats <= billed_quantity:
            continue
        args = (clients[client_id], products[product_id], devices, seats, billed_quantity)
        if billed_quantity == 0:
            figures, kind = _unbilled(*args, contracts.get(client_id, [])), OpportunityKind.UNBILLED
        else:
            figures, kind = _quantity_gap(*args, direct, via_old, products), OpportunityKind.QUANTITY_GAP
        wanted[(client_id, kind, f"product:{product_id}")] = figures
    for (client_id, key), (quantity, label) in counts.unmapped.items():
        wanted[(client_id, OpportunityKind.UNMAPPED, key)] = _unmapped(clients[client_id], key, quantity, label)
    for figures in wanted.values():
        figures["severity"] = severity_for(figures["monthly_impact"], thresholds)
        figures["severity_rank"] = SEVERITY_RANK[figures["severity"]]
    return wanted


def _plural(n, word, plural=None):
    return f"{n} {word if n == 1 else (plural or word + 's')}"


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
    price = direct[0].unit_price if len(direct) == 1 else list_price
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
        old_names = sorted({products[line.product_id].name for line in via_old})
        figures["not_ready_reason"] = (
            f"Part of it is billed on a retired product ({', '.join(old_names)}); migrate that line first."
        )
    else:
        numbers = ", ".join(sorted({line.number for line in direct}))
        figures["not_ready_reason"] = (
            f"{name} is billed on {len(direct)} lines ({numbers}); choose which line to raise."
        )
    if figures["not_ready_reason"]:
        figures["root_cause"] += " " + figures["not_ready_reason"]
    return figures


def _unmigrated(client_name, product_lines, old, new):
    old_id, old_name, _old_price, _sku = old
    qty = sum(line.quantity for line in product_lines)
    billed_now = sum((line.quantity * line.unit_price for line in product_lines), ZERO)
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
        numbers = ", ".join(sorted({line.number for line in product_lines}))
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
