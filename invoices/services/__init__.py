"""Writes for invoices, one module per concern; the public names are importable from here.

- ``issuing``: customer classes on clients, issuing invoices (threshold carry-over at issue);
- ``payments``: recording payments, allocating them oldest first (leftover is credit);
- ``statuses``: the status rules as one set-based statement; ``recalculation``: the nightly run;
- ``collections``: each step of the schedule once per delinquency episode; ``email``: invoices sent
  (the outbox: queued once per occasion, delivered once); ``documents``: each invoice's PDF;
- ``billing``: billing runs (drafts from contracts, one rule for every month), ``numbering``;
- ``common``: the client's row lock (taken first by every writer of money) and reading amounts.
"""

from .billing import (
    billing_calendar,
    build_next_month_drafts,
    cancel_billing_run,
    compute_bills,
    create_billing_run,
    issue_billing_run,
    rebuild_billing_run,
    request_billing_run,
    start_billing_run,
)
from .billing import run_chunk as run_billing_chunk
from .collections import LIFTED, run_collections
from .common import lock_client, parse_money
from .documents import invoice_document, invoice_pdf, pdf_filename, render_invoice_pdf
from .email import BATCH as OUTBOX_BATCH
from .email import (
    deliver_message,
    messages_to_sweep,
    queue_invoice_messages,
    resend_invoice,
    send_invoice_email,
)
from .issuing import DEFAULT_TERMS_DAYS, assign_customer_class, issue_built, issue_invoice
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
    "billing_calendar",
    "build_next_month_drafts",
    "cancel_billing_run",
    "compute_bills",
    "create_billing_run",
    "issue_billing_run",
    "issue_built",
    "rebuild_billing_run",
    "request_billing_run",
    "run_billing_chunk",
    "start_billing_run",
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
    "OUTBOX_BATCH",
    "deliver_message",
    "invoice_document",
    "invoice_pdf",
    "messages_to_sweep",
    "pdf_filename",
    "queue_invoice_messages",
    "render_invoice_pdf",
    "run_collections",
    "send_invoice_email",
    "validate_payment",
]
