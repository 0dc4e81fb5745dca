"""Invoice numbers from one gap-free sequence, in issue order.

The counter row is locked by the issuing transaction (after the clients' rows: every writer of money
locks its clients first), so numbers are handed out in the order invoices are issued, and a
transaction that rolls back takes its numbers back with it: no gaps.
"""

import datetime as dt

from django.conf import settings

from ..models import InvoiceSequence


def _locked_sequence() -> InvoiceSequence:
    InvoiceSequence.objects.get_or_create(
        key="invoice",
        defaults={"prefix": settings.INVOICE_NUMBER_PREFIX, "width": settings.INVOICE_NUMBER_WIDTH},
    )
    return InvoiceSequence.objects.select_for_update().get(key="invoice")


def take_numbers(count: int, *, issued_on: dt.date) -> list[tuple[str, int]]:
    """The next ``count`` (number, position) pairs; call inside the issuing transaction."""
    if count <= 0:
        return []
    sequence = _locked_sequence()
    first = sequence.next_value
    sequence.next_value = first + count
    sequence.save(update_fields=["next_value"])
    return [(sequence.format(value, issued_on.year), value) for value in range(first, first + count)]
