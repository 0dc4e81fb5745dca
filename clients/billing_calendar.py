"""Which month a client is billed up to, without ``clients`` importing the app that bills.

The invoicing app registers a provider in its ``AppConfig.ready()``::

    from clients.billing_calendar import register
    register(my_provider)   # my_provider(client_id: int) -> datetime.date | None

``first_unbilled_month(client_id)`` asks the providers in registration order and takes the first
answer that is not None (the first day of the first month not yet billed for that client); with
no provider, or none that knows, it is the first day of the organisation's current month.
"""

import datetime as dt

from .dates import org_today

_providers = []


def register(provider):
    if provider not in _providers:
        _providers.append(provider)
    return provider


def unregister(provider) -> None:
    """Drop a provider (tests)."""
    if provider in _providers:
        _providers.remove(provider)


def first_unbilled_month(client_id: int) -> dt.date:
    """The first day of the first month not yet billed for the client."""
    for provider in _providers:
        month = provider(client_id)
        if month is not None:
            return month.replace(day=1)
    return org_today().replace(day=1)
