"""The nightly recalculation of invoice statuses, in chunks of clients any worker can take."""

import datetime as dt
import logging

from django.db import connection, transaction

from clients.dates import org_today

from ..models import StatusChangeSource
from .statuses import apply_statuses

log = logging.getLogger(__name__)


CHUNK_CLIENTS = 10_000
BEYOND_LAST_ID = 2**62  # the upper bound of the last chunk: above any client id there will ever be


def client_chunks(chunk_size: int = CHUNK_CLIENTS) -> list[tuple[int, int]]:
    """Client id ranges of about ``chunk_size`` clients each, covering every client."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM clients_client) c"
            " WHERE (rn - 1) %% %s = 0 ORDER BY id",
            [chunk_size],
        )
        starts = [row[0] for row in cursor.fetchall()]
    if not starts:
        return []
    ends = [s - 1 for s in starts[1:]] + [BEYOND_LAST_ID]
    return list(zip(starts, ends, strict=True))


@transaction.atomic
def recalculate_chunk(*, as_of: dt.date, client_range: tuple[int, int]) -> dict:
    """Recalculate the statuses of the invoices of clients whose id is in ``client_range``."""
    return apply_statuses(as_of=as_of, source=StatusChangeSource.RECALCULATION, client_range=client_range)


def recalculate_statuses(*, as_of: dt.date | None = None, chunk_size: int | None = None) -> dict:
    """Every invoice's status as of ``as_of`` (one transaction per chunk of clients); returns counts.

    Idempotent: a second run changes nothing. Returns {"changed": n, "<status>": n, ...}.
    """
    as_of = as_of or org_today()
    counts: dict[str, int] = {}
    chunks = client_chunks(chunk_size) if chunk_size else [(0, BEYOND_LAST_ID)]
    for chunk in chunks:
        for status, n in recalculate_chunk(as_of=as_of, client_range=chunk).items():
            counts[status] = counts.get(status, 0) + n
    counts["changed"] = sum(counts.values())
    return counts
