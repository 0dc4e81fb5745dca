"""Invoices, payments, statuses, collections and billing runs (SPEC section 3).

Balances are stored on the rows the services lock and change (``Invoice.amount_paid``,
``Invoice.credit_applied``, ``Payment.unallocated``) so that the nightly status
recalculation is one set-based statement over the invoice table.

- ``choices``: statuses, collection actions, payment methods; ``customers``: classes and profiles;
- ``ledger``: invoices, lines, payments, allocations, status history; ``collections``: episodes;
- ``runs``: billing runs, their drafts, the numbering sequence; ``outbox``: e-mails and PDFs.
"""

from .choices import (
    MAX_DAYS_OVERDUE,
    MAX_TERMS_DAYS,
    CollectionActionKind,
    InvoiceStatus,
    PaymentMethod,
    StatusChangeSource,
    StepAction,
)
from .collections import CollectionAction, CollectionEpisode
from .customers import BillingProfile, CollectionStep, CustomerClass
from .ledger import (
    ALLOCATION_ORDER,
    PAYMENT_NOT_POSITIVE,
    PAYMENT_ORDER,
    PAYMENT_REFERENCE_TAKEN,
    Allocation,
    BilledLine,
    Invoice,
    InvoiceLine,
    InvoiceStatusChange,
    Payment,
)
from .outbox import InvoiceDocument, InvoiceMessage, MessageKind, MessageStatus
from .runs import (
    BillingRun,
    BillingRunChunk,
    BillingRunScope,
    BillingRunStatus,
    DraftInvoice,
    DraftLine,
    InvoiceSequence,
)

__all__ = [
    "ALLOCATION_ORDER",
    "MAX_DAYS_OVERDUE",
    "MAX_TERMS_DAYS",
    "PAYMENT_NOT_POSITIVE",
    "PAYMENT_ORDER",
    "PAYMENT_REFERENCE_TAKEN",
    "Allocation",
    "BilledLine",
    "BillingProfile",
    "BillingRun",
    "BillingRunChunk",
    "BillingRunScope",
    "BillingRunStatus",
    "CollectionAction",
    "CollectionActionKind",
    "CollectionEpisode",
    "CollectionStep",
    "CustomerClass",
    "DraftInvoice",
    "DraftLine",
    "Invoice",
    "InvoiceDocument",
    "InvoiceLine",
    "InvoiceMessage",
    "InvoiceSequence",
    "InvoiceStatus",
    "InvoiceStatusChange",
    "MessageKind",
    "MessageStatus",
    "Payment",
    "PaymentMethod",
    "StatusChangeSource",
    "StepAction",
]
