"""Invoice pages, one module per concern: ``ledger`` (invoices, payments, resend)."""

from .ledger import invoice_detail, invoice_list, record_payment, resend

__all__ = ["invoice_detail", "invoice_list", "record_payment", "resend"]
