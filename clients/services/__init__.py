"""Writes to clients and contracts. Every change is recorded with who and when.

``lines``: the dated contract-line services (add, change from a date, end, remove a mistake);
``contracts``: ending contracts with their lines; ``records``: the audit trails and service status.
"""

from .contracts import contract_saved_in_admin, end_contracts
from .lines import (
    add_contract_line,
    add_contract_lines,
    billed_line_ids,
    change_contract_line,
    clean_quantity,
    clean_unit_price,
    end_contract_line,
    end_contract_lines,
    remove_contract_line,
)
from .records import record_contract_change, set_service_status

__all__ = [
    "add_contract_line",
    "add_contract_lines",
    "billed_line_ids",
    "change_contract_line",
    "clean_quantity",
    "clean_unit_price",
    "contract_saved_in_admin",
    "end_contract_line",
    "end_contract_lines",
    "end_contracts",
    "record_contract_change",
    "remove_contract_line",
    "set_service_status",
]
