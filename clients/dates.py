"""Dates in the organisation's time zone (settings.TIME_ZONE), never the server's."""

import datetime as dt

from django.utils import dateformat, timezone


def org_today() -> dt.date:
    """Today's date where the organisation is."""
    return timezone.localdate()


def org_date(moment: dt.datetime) -> dt.date:
    """The organisation's calendar date of an aware datetime."""
    return timezone.localdate(moment)


def display_date(day: dt.date) -> str:
    """A date as the console shows it everywhere ("5 Dec 2026": the templates' ``date:"j M Y"``)."""
    return dateformat.format(day, "j M Y")
