"""Dates in the organisation's time zone (settings.TIME_ZONE), never the server's."""

import datetime as dt

from django.utils import timezone


def org_today() -> dt.date:
    """Today's date where the organisation is."""
    return timezone.localdate()


def org_date(moment: dt.datetime) -> dt.date:
    """The organisation's calendar date of an aware datetime."""
    return timezone.localdate(moment)
