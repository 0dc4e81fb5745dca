"""Money helpers shared by every app: one precision, one rounding rule, never float."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models

MONEY_MAX_DIGITS = 14
MONEY_DECIMAL_PLACES = 2
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def MoneyField(*args, **kwargs):  # noqa: N802 - reads like a field class at the call site
    """A DecimalField with the project's money precision."""
    kwargs.setdefault("max_digits", MONEY_MAX_DIGITS)
    kwargs.setdefault("decimal_places", MONEY_DECIMAL_PLACES)
    return models.DecimalField(*args, **kwargs)


def quantize(amount) -> Decimal:
    """Round to the cent, half up: the one place where rounding happens."""
    if isinstance(amount, float):
        raise TypeError("money must never be a float")
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount) -> str:
    """An amount as a person reads it in text: the organisation's currency, thousands separated
    (``GBP 8,000.00``); templates do the same with ``{{ CURRENCY }}`` and ``floatformat:"2g"``."""
    return f"{settings.ORGANISATION_CURRENCY} {quantize(amount):,.2f}"
