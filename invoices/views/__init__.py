"""Invoice pages, one module per concern: ``ledger`` (invoices, payments, resend), ``documents``
(the PDFs), ``billing`` (billing runs and their drafts)."""

from .billing import draft_detail, run_cancel, run_detail, run_issue, run_list, run_new, run_rebuild
from .documents import draft_pdf, invoice_pdf
from .ledger import invoice_detail, invoice_list, record_payment, resend

__all__ = [
    "draft_detail",
    "run_cancel",
    "run_detail",
    "run_issue",
    "run_list",
    "run_new",
    "run_rebuild",
    "draft_pdf",
    "invoice_detail",
    "invoice_list",
    "invoice_pdf",
    "record_payment",
    "resend",
]
