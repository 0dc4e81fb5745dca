"""What every writer of money shares: the client's row lock, and reading an amount."""

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from clients.models import Client
from clients.money import quantize


def lock_client(client) -> Client:
    """The client's row, locked for this transaction: every change to its money takes it first, so
    one client's payments, invoices and collection runs are serialised."""
    return Client.objects.select_for_update().get(pk=client.pk if isinstance(client, Client) else client)


# A plain amount as people type it: ASCII digits, an optional minus, at most two decimals (a comma
# for the decimal point is accepted); no exponent ("1e10"), no other scripts' digits, no "NaN".
PLAIN_AMOUNT = re.compile(r"-?[0-9]{1,12}(?:[.,][0-9]{1,2})?")
AMOUNT_MESSAGE = "Enter an amount such as 125.50 (digits, and at most two decimals)."


def parse_money(value, *, field) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money must never be a float")
    try:
        return quantize(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise ValidationError({field: "Enter an amount such as 125.50."}) from exc


def parse_plain_amount(value, *, field) -> Decimal:
    """An amount someone entered (a payment): plain digits to the cent, or a ``Decimal`` already
    exact to the cent; anything else is refused rather than read."""
    if isinstance(value, float):
        raise TypeError("money must never be a float")
    if isinstance(value, Decimal):
        if not value.is_finite() or value != value.quantize(Decimal("0.01")) or abs(value) >= Decimal("1e12"):
            raise ValidationError({field: AMOUNT_MESSAGE})
        return quantize(value)
    text = str(value).strip()
    if not PLAIN_AMOUNT.fullmatch(text):
        raise ValidationError({field: AMOUNT_MESSAGE})
    return quantize(Decimal(text.replace(",", ".")))
