"""Billing periods are calendar months: a month is named by its first day."""

import calendar
import datetime as dt
from functools import lru_cache

from clients.dates import display_date


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


@lru_cache(maxsize=1024)  # the rule asks for the same few months hundreds of thousands of times
def days_in(month: dt.date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


@lru_cache(maxsize=1024)
def month_end(month: dt.date) -> dt.date:
    return month.replace(day=days_in(month))


def months(first: dt.date, last: dt.date):
    """Every month from ``first`` to ``last`` (both months, inclusive)."""
    month = month_of(first)
    while month <= last:
        yield month
        month = add_months(month, 1)


def month_label(month: dt.date) -> str:
    return f"{month:%b %Y}"


def days_label(first: int, last: int, month: dt.date) -> str:
    """ "11–31 Jan 2027" (a range of days of one month); one day is "11 Jan 2027"."""
    if first == last:
        return display_date(month.replace(day=first))
    return f"{first}–{last} {month:%b %Y}"
