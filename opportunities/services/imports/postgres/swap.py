"""The import's prepared tables (names, staleness, clean-up) and the commit that swaps one in."""

import datetime as dt
import re

from django.db import connection
from django.utils import timezone

from ....models import SourceImport
from ....selectors import rules_signature
from .stage import MODELS, ClientGoneError, StaleSnapshotError

# --- Names ---------------------------------------------------------------------------------------


LOCK_TIMEOUT = "20s"  # how long a commit waits for readers of the live table before giving up


def live_table(source) -> str:
    return MODELS[source]._meta.db_table


def next_table(imp) -> str:
    return f"{live_table(imp.source)}_next_{int(imp.pk)}"


def _oid(cur, table):
    cur.execute("SELECT to_regclass(%s)::oid", [table])
    return cur.fetchone()[0]


def is_prepared(imp) -> bool:
    """Does the import have a prepared table compared with the snapshot that is live now, and
    mapped with the rules as they are now?"""
    with connection.cursor() as cur:
        return (
            imp.snapshot_base is not None
            and _oid(cur, next_table(imp)) is not None
            and _oid(cur, live_table(imp.source)) == imp.snapshot_base
            and rules_signature() == imp.snapshot_rules
        )


def prepared_tables():
    """[(table, import id)] of every prepared table in the database."""
    patterns = [live_table(source).replace("_", "\\_") + "\\_next\\_%" for source in MODELS]
    with connection.cursor() as cur:
        cur.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace "
            "AND relname LIKE ANY(%s)",
            [patterns],
        )
        found = [row[0] for row in cur.fetchall()]
    return [(table, int(table.rsplit("_", 1)[1])) for table in found if table.rsplit("_", 1)[1].isdigit()]


def drop_prepared(imp):
    _drop_table(next_table(imp))


def _drop_table(table):
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")


def drop_stale_previews(*, older_than=dt.timedelta(hours=24)) -> int:
    """Drop the prepared tables of previews nobody committed: those of imports that are no longer
    waiting to be committed, and of ready ones uploaded longer ago than ``older_than`` (a 1M-row
    device preview holds ~150 MB). A ready import whose table is dropped still commits: it
    prepares the table again first. The number of tables dropped (none on SQLite)."""
    if connection.vendor != "postgresql":
        return 0
    tables = prepared_tables()
    waiting = dict(
        SourceImport.objects.filter(
            pk__in=[pk for _table, pk in tables],
            status__in=[SourceImport.Status.READY, SourceImport.Status.VALIDATING, SourceImport.Status.COMMITTING],
        ).values_list("pk", "uploaded_at")
    )
    cutoff = timezone.now() - older_than
    stale = [table for table, pk in tables if waiting.get(pk) is None or waiting[pk] < cutoff]
    for table in stale:
        _drop_table(table)
    return len(stale)


def _indexes(cur, table):
    """[(name, definition, constraint type 'p'/'u'/None)] of a table's indexes, in name order."""
    cur.execute(
        """SELECT ic.relname, pg_get_indexdef(i.indexrelid), con.contype
           FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
           LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u')
           WHERE i.indrelid = to_regclass(%s) ORDER BY ic.relname""",
        [table],
    )
    return cur.fetchall()


def _definition_on(definition, name, table):
    """An index definition re-targeted: ``CREATE [UNIQUE] INDEX <name> ON <table> USING ...``."""
    return re.sub(
        r"^CREATE (UNIQUE )?INDEX \S+ ON \S+ ",
        lambda m: f"CREATE {m.group(1) or ''}INDEX {name} ON {table} ",
        definition,
    )


# --- The commit: swap it in -----------------------------------------------------------------------


def swap_in(imp):
    """Make the import's prepared table the live snapshot. Call inside the commit's transaction.

    Raises StaleSnapshotError when the table is missing or another snapshot went live since it was
    prepared, ClientGoneError when a client the file names was deleted meanwhile (for both,
    nothing changed: build or report again), OperationalError when readers hold the table longer
    than LOCK_TIMEOUT.
    """
    live, nxt = live_table(imp.source), next_table(imp)
    with connection.cursor() as cur:
        cur.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        if _oid(cur, nxt) is None:
            raise StaleSnapshotError
        cur.execute(f"LOCK TABLE {live}, {nxt} IN ACCESS EXCLUSIVE MODE")
        if _oid(cur, live) != imp.snapshot_base or rules_signature() != imp.snapshot_rules:
            raise StaleSnapshotError
        # The snapshot tables have no foreign-key constraint (speed): keep every client the file names
        # from being deleted until this transaction ends, and refuse if one already was.
        cur.execute(
            "SELECT count(*) FROM (SELECT id FROM clients_client WHERE id = ANY(%s) FOR KEY SHARE) locked",
            [imp.snapshot_clients],
        )
        (present,) = cur.fetchone()
        named = len(imp.snapshot_clients)
        if named != present:
            raise ClientGoneError
        live_indexes, next_indexes = _indexes(cur, live), {name: d for name, d, _k in _indexes(cur, nxt)}
        for number, (_name, definition, _kind) in enumerate(live_indexes):
            mine = f"{nxt}_i{number}"
            if _definition_on(next_indexes.get(mine, ""), "x", "t") != _definition_on(definition, "x", "t"):
                raise StaleSnapshotError  # the table's structure changed (a migration) since the preview
        cur.execute(f"DROP TABLE {live}")
        cur.execute(f"ALTER TABLE {nxt} RENAME TO {live}")
        for number, (name, _definition, kind) in enumerate(live_indexes):
            mine = f"{nxt}_i{number}"
            if kind == "p":
                cur.execute(f"ALTER TABLE {live} ADD CONSTRAINT {name} PRIMARY KEY USING INDEX {mine}")
            elif kind == "u":
                cur.execute(f"ALTER TABLE {live} ADD CONSTRAINT {name} UNIQUE USING INDEX {mine}")
            else:
                cur.execute(f"ALTER INDEX {mine} RENAME TO {name}")
        # Every other prepared table of this source was compared with the snapshot just replaced
        # (one still being built is left to its builder: its commit will find it stale).
        others = [(table, pk) for table, pk in prepared_tables() if table.startswith(f"{live}_next_")]
        building = set(
            SourceImport.objects.filter(
                pk__in=[pk for _table, pk in others],
                status__in=[SourceImport.Status.VALIDATING, SourceImport.Status.COMMITTING],
            ).values_list("pk", flat=True)
        )
        for table, pk in others:
            if pk not in building:
                _drop_table(table)
