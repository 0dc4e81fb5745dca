"""Billing runs: invoices generated from contracts, one rule for every month.

- ``periods``: months; ``rule``: expected amount and the lines that correct a month (pure);
- ``compute``: a chunk of clients through the rule (what each client's invoice would hold now);
- ``runs``: building drafts in chunks any worker takes, rebuild, cancel; ``issue``: numbering and
  issuing drafts under the clients' locks, stale drafts skipped.
"""

from .compute import Calendar, ClientBill, billing_calendar, compute_bills
from .issue import issue_billing_run
from .runs import (
    build_next_month_drafts,
    cancel_billing_run,
    create_billing_run,
    rebuild_billing_run,
    request_billing_run,
    run_chunk,
    start_billing_run,
)

__all__ = [
    "Calendar",
    "ClientBill",
    "billing_calendar",
    "build_next_month_drafts",
    "cancel_billing_run",
    "compute_bills",
    "create_billing_run",
    "issue_billing_run",
    "rebuild_billing_run",
    "request_billing_run",
    "run_chunk",
    "start_billing_run",
]
