"""Ending contracts, and with them their lines (collections' "terminate commitments", Django admin)."""

import datetime as dt

from django.db import transaction

from ..dates import display_date
from ..models import Contract, ContractChange
from .lines import end_contract_lines
from .records import record_contract_change


@transaction.atomic
def end_contracts(*, client, on: dt.date, reason: str, actor=None, source=ContractChange.Source.CONSOLE) -> int:
    """End every contract of the client still running on ``on`` (``on`` = last day) and its lines
    with it, on the same date (``end_contract_line``); returns how many contracts ended."""
    contracts = list(Contract.objects.select_for_update().filter(client=client, active=True).order_by("pk"))
    ended = 0
    for contract in contracts:
        if contract.end_date is not None and contract.end_date <= on:
            continue
        contract.end_date = max(on, contract.start_date)
        contract.save(update_fields=["end_date"])
        end_contract_lines(contract=contract, on=contract.end_date, actor=actor, source=source, note=reason)
        record_contract_change(
            contract=contract,
            action=ContractChange.Action.ENDED,
            detail=f"Ended on {contract.end_date:%Y-%m-%d}: {reason}",
            actor=actor,
            source=source,
        )
        ended += 1
    return ended


@transaction.atomic
def contract_saved_in_admin(contract: Contract, *, was_active: bool, old_end: dt.date | None, on: dt.date, actor=None):
    """After an Admin saved the contract: one made inactive has its open lines ended on ``on`` (the
    change date); one given an earlier end date has its lines ended on that date."""
    source = ContractChange.Source.ADMIN
    if was_active and not contract.active:
        last = on if contract.end_date is None else min(on, contract.end_date)
        last = max(last, contract.start_date)
        end_contract_lines(
            contract=contract, on=last, actor=actor, source=source, note=f"contract set inactive on {display_date(on)}"
        )
    elif contract.end_date is not None and (old_end is None or contract.end_date < old_end):
        end_contract_lines(
            contract=contract,
            on=contract.end_date,
            actor=actor,
            source=source,
            note=f"contract ends on {display_date(contract.end_date)}",
        )
