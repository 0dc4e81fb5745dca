"""The PostgreSQL engine for device and subscription imports: build the next snapshot, then swap it in.

A million-row export cannot be merged row by row into a live, indexed table quickly. So:

- The preview (``build_next``) cuts the file into shares between records, one per
  connection (``IMPORT_THREADS``). Each connection streams its share with ``COPY`` into a
  temporary staging table, and one ``INSERT ... SELECT`` writes every valid row, typed,
  with its client resolved and its mapping (the same rules detection uses) into the
  import's own table, ``<snapshot>_next_<import id>``. That table has the live table's
  columns, defaults and checks, which refuse some bad rows themselves (an unknown client, a
  cell longer than its column: see ``_row_ok``). Its indexes are then built in one sorted pass
  each (the primary key, on the source's id, is the duplicate-id check) and it is compared
  with the live snapshot for the counts and the clients touched: when the live snapshot is the
  smaller, each live item is looked up in the new primary key; otherwise the two are joined
  whole. Nothing live changes; the table is kept for the commit. (Each connection also looks,
  as it streams, for a cell with a space at either end: only then are its cells trimmed.)
- The commit (``swap_in``) locks the live table, checks that every client the file names
  still exists (and keeps them from being deleted), drops the live table and renames the
  prepared one, its indexes and constraints to the live names: all in one transaction,
  so readers see either the old snapshot or the new one.
- When the fast path finds a bad row (fewer rows written than read, a duplicate id, a
  cell that does not cast, a constraint refusing a row), nothing is kept, and ``report``
  runs the full check of every row, with line numbers, for the uploader.

A prepared table is current only while the live table is the one it was compared with
(its oid, recorded on the import), with the same indexes, and the mapping rules are the ones
it was mapped with; otherwise the commit drops it and builds again. A commit of another
import of the same source drops every other prepared table. The nightly detection task
drops the tables of previews nobody committed within a day (``drop_stale_previews``).
"""

from .build import build_next, report
from .stage import MODELS, ClientGoneError, StaleSnapshotError
from .swap import (
    drop_prepared,
    drop_stale_previews,
    is_prepared,
    live_table,
    next_table,
    prepared_tables,
    swap_in,
)

__all__ = [
    "MODELS",
    "ClientGoneError",
    "StaleSnapshotError",
    "build_next",
    "drop_prepared",
    "drop_stale_previews",
    "is_prepared",
    "live_table",
    "next_table",
    "prepared_tables",
    "report",
    "swap_in",
]
