"""What every writer of money shares: the client's row lock, and reading an amount."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from clients.models import Client
from clients.money import quantize


def lock_client(client) -> Client:
    """The client's row, locked for this transaction: every change to its money takes it first, so
    one client's payments, invoices and collection runs are serialised."""
    return Client.objects.select_for_update().get(pk=client.pk if isinstance(client, Client) else client)


def parse_money(value, *, field) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money must never be a float")
    try:
        return quantize(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise ValidationError({field: "Enter an amount such as 125.50."}) from exc
