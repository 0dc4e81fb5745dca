"""Invoices, payments, statuses and collections (SPEC section 3)."""
