import datetime as dt

from django.core.management.base import CommandError


def parse_as_of(value):
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--as-of must be a date like 2026-11-22, not {value!r}") from exc
