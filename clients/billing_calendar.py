"""Which month a client is billed up to, without ``clients`` importing the app that bills.

The invoicing app registers a provider in its ``AppConfig.ready()``::

    from clients.billing_calendar import register
    register(my_provider)   # my_provider(client_id: int) -> datetime.date | None
    register(my_provider, many=my_many)  # and my_many(client_ids) -> {client_id: date}, one query

``first_unbilled_month(client_id)`` asks the providers in registration order and takes the first
answer that is not None (the first day of the first month not yet billed for that client); with
no provider, or none that knows, it is the first day of the organisation's current month.
"""

import datetime as dt

from .dates import org_today

_providers = []
_many = {}  # provider -> its answer for many clients at once


def register(provider, *, many=None):
    if provider not in _providers:
        _providers.append(provider)
    if many is not None:
        _many[provider] = many
    return provider


def unregister(provider) -> None:
    """Drop a provider (tests)."""
    if provider in _providers:
        _providers.remove(provider)
    _many.pop(provider, None)


def first_unbilled_month(client_id: int) -> dt.date:
    """The first day of the first month not yet billed for the client."""
    return first_unbilled_months([client_id])[client_id]


def first_unbilled_months(client_ids) -> dict[int, dt.date]:
    """``first_unbilled_month`` for many clients (a provider that answers many at once is asked once)."""
    found: dict[int, dt.date] = {}
    for provider in _providers:
        waiting = [pk for pk in client_ids if pk not in found]
        if not waiting:
            break
        if provider in _many:
            answers = _many[provider](waiting)
        else:
            answers = {pk: provider(pk) for pk in waiting}
        found.update({pk: month.replace(day=1) for pk, month in answers.items() if month is not None})
    default = org_today().replace(day=1)
    return {pk: found.get(pk, default) for pk in client_ids}
