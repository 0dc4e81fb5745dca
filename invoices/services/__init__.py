"""Writes for invoices, one module per concern; the public names are importable from here.

- ``issuing``: customer classes on clients, issuing invoices (threshold carry-over at issue);
- ``payments``: recording payments, allocating them oldest first (leftover is credit);
- ``statuses``: the status rules as one set-based statement; ``recalculation``: the nightly run;
- ``collections``: each step of the schedule once per delinquency episode; ``email``: invoices sent;
- ``common``: the client's row lock (taken first by every writer of money) and reading amounts.
"""

from .collections import LIFTED, run_collections
from .common import lock_client, parse_money
from .email import resend_invoice, send_invoice_email
from .issuing import DEFAULT_TERMS_DAYS, assign_customer_class, issue_invoice
from .payments import (
    ALLOCATE_PAYMENT_SQL,
    NEEDS_CONFIRMATION,
    allocate,
    receive_payment,
    record_payment,
    validate_payment,
)
from .recalculation import CHUNK_CLIENTS, client_chunks, recalculate_chunk, recalculate_statuses
from .statuses import STATUS_CASE, apply_statuses, refresh_statuses

__all__ = [
    "ALLOCATE_PAYMENT_SQL",
    "CHUNK_CLIENTS",
    "DEFAULT_TERMS_DAYS",
    "LIFTED",
    "NEEDS_CONFIRMATION",
    "STATUS_CASE",
    "allocate",
    "apply_statuses",
    "assign_customer_class",
    "client_chunks",
    "issue_invoice",
    "lock_client",
    "parse_money",
    "recalculate_chunk",
    "recalculate_statuses",
    "receive_payment",
    "record_payment",
    "refresh_statuses",
    "resend_invoice",
    "run_collections",
    "send_invoice_email",
    "validate_payment",
]
