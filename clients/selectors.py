"""Reads for the clients pages: set-based, one query per list."""

from django.db.models import Case, DecimalField, IntegerField, OuterRef, Prefetch, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce

from .dates import org_today
from .models import LINE_TOTAL, Client, Contract, ContractChange, ContractLine
from .money import ZERO

MONEY_OUT = DecimalField(max_digits=18, decimal_places=2)


def mrr_subquery(on=None):
    """Monthly recurring revenue of the outer client: its in-force contract lines summed."""
    lines = (
        ContractLine.objects.in_force(on)
        .filter(contract__client=OuterRef("pk"))
        .order_by()
        .values("contract__client")
        .annotate(total=Sum(LINE_TOTAL))
        .values("total")
    )
    return Coalesce(Subquery(lines, output_field=MONEY_OUT), Value(ZERO), output_field=MONEY_OUT)


def contracts_in_force_subquery(on=None):
    from django.db.models import Count

    counts = (
        Contract.objects.in_force(on)
        .filter(client=OuterRef("pk"))
        .order_by()
        .values("client")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts), Value(0))


def client_list():
    """Clients with their MRR and number of contracts in force (one query)."""
    today = org_today()
    return Client.objects.annotate(mrr=mrr_subquery(today), contracts_in_force=contracts_in_force_subquery(today))


def client_detail_contracts(client):
    """The client's contracts, newest first, with every dated segment of their lines (two queries)."""
    lines = ContractLine.objects.select_related("product").order_by("product__name", "start_date", "id")
    return (
        Contract.objects.filter(client=client)
        .order_by("-active", "-start_date", "number")
        .prefetch_related(Prefetch("lines", queryset=lines))
    )


HISTORY_SHOWN = 30  # contract changes the client page lists, newest first


def contract_history(client, *, limit: int = HISTORY_SHOWN):
    """The latest recorded changes to the client's contracts and lines, with who made them (one query)."""
    return list(
        ContractChange.objects.filter(contract__client=client)
        .select_related("contract", "actor")
        .order_by("-created_at", "-id")[:limit]
    )


def client_page(client, on=None) -> dict:
    """What the client page shows on a day (the organisation's today by default): its contracts,
    each with ``in_force``, its line segments split into ``current_lines`` (in force that day) and
    ``other_lines`` (ended before it or starting after it, each with ``ended``), and the
    ``monthly_total`` of the current ones; the monthly recurring revenue of the contracts in force
    (their lines in force that day, as ``ContractLine.objects.in_force``); the contract history and
    the latest service-status changes."""
    on = on or org_today()
    contracts = list(client_detail_contracts(client))
    for contract in contracts:
        contract.in_force = contract.is_in_force(on)
        segments = list(contract.lines.all())
        contract.current_lines = [line for line in segments if line.is_in_force(on)]
        contract.other_lines = [line for line in segments if not line.is_in_force(on)]
        for line in contract.other_lines:
            line.ended = line.start_date < on
        contract.monthly_total = sum((line.monthly_total for line in contract.current_lines), ZERO)
    return {
        "client": client,
        "on": on,
        "contracts": contracts,
        "mrr": sum((c.monthly_total for c in contracts if c.in_force), ZERO),
        "contract_history": contract_history(client),
        "status_changes": list(client.status_changes.select_related("actor")[:20]),
    }


def client_mrr(client, on=None):
    return ContractLine.objects.in_force(on).filter(contract__client=client).monthly_total()


def portfolio_summary():
    """Figures for Home: clients by service status, total MRR, contracts in force."""
    from django.db.models import Count, Q

    today = org_today()
    counts = Client.objects.aggregate(
        total=Count("pk"),
        active=Count("pk", filter=Q(service_status="active")),
        restricted=Count("pk", filter=Q(service_status__in=["limited", "suspended"])),
    )
    counts["mrr"] = ContractLine.objects.in_force(today).monthly_total()
    counts["contracts_in_force"] = Contract.objects.in_force(today).count()
    return counts


PICK_LIMIT = 20  # suggestions the client picker shows


def clients_matching(term: str, *, limit: int = PICK_LIMIT) -> list[Client]:
    """Clients for the picker: names containing ``term`` (those starting with it first) and the
    client whose PSA id it is; one query through the name's trigram index and the PSA id's key."""
    term = term.strip()
    if not term:
        return []
    starts = Case(When(name__istartswith=term, then=Value(0)), default=Value(1), output_field=IntegerField())
    return list(
        Client.objects.filter(Q(name__icontains=term) | Q(psa_id=term))
        .annotate(rank=starts)
        .order_by("rank", "name", "id")
        .only("pk", "name", "psa_id", "service_status")[:limit]
    )


def client_name(pk) -> str:
    """The name the picker shows for a chosen client ('' when there is none)."""
    if not str(pk or "").isdigit() or len(str(pk)) > 18:
        return ""
    return Client.objects.filter(pk=int(pk)).values_list("name", flat=True).first() or ""
