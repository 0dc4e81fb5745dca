"""CSV downloads that open safely in a spreadsheet, streamed row by row.

A cell that a spreadsheet would read as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return) is written with a leading apostrophe, so that a value such as
``=HYPERLINK(...)`` from an imported file is shown as text and never evaluated. Numbers are
written as numbers. The file starts with a UTF-8 byte order mark, which Excel needs to read
accented names correctly.
"""

import csv
import datetime as dt
from collections.abc import Iterable, Sequence

from django.http import StreamingHttpResponse
from django.utils import timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A cell's value as written to the file: text a spreadsheet would evaluate gets an apostrophe;
    an aware datetime is written in the organisation's time zone; None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write returns the text written: csv.writer formats one row at a time."""

    def write(self, value):
        return value


def csv_download(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> StreamingHttpResponse:
    """A streamed CSV attachment: the header, then each row (an iterable, read once, as it is sent)."""
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff" + writer.writerow(header)
        for row in rows:
            yield writer.writerow([spreadsheet_safe(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
