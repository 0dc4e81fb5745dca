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

import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from ..models import Device, ImportSource, SourceImport, Subscription
from .import_base import MAX_ERRORS_KEPT, ImportRejectedError, Outcome, report_progress
from .rules import RuleBook, rules_signature

READ_CHUNK = 1024 * 1024
MODELS = {ImportSource.DEVICES: Device, ImportSource.SUBSCRIPTIONS: Subscription}
LOCK_TIMEOUT = "20s"

_TS_STRICT = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])([ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"

_SQL = {
    ImportSource.DEVICES: {
        "columns": ("client_id", "hostname", "device_type", "os", "last_seen"),
        "clean": """
            {k} AS key, {client} AS client_ref, {hostname} AS hostname, lower({device_type} COLLATE "C") AS device_type,
            {os} AS os, {last_seen} AS last_seen_raw, {last_seen_case} AS last_seen
        """,
        "checks": """
            WHEN c.device_type NOT IN ('workstation', 'server', 'network', 'other')
                THEN format('device type "%%s" is not one of workstation, server, network, other', c.device_type)
            WHEN c.last_seen_raw <> '' AND c.last_seen IS NULL
                THEN format('last seen "%%s" is not a date and time', c.last_seen_raw)
        """,
        # What the fast path checks besides the required cells: the new table's own constraints
        # refuse the rest (see _row_ok).
        "fast_checks": "(c.last_seen IS NOT NULL OR c.last_seen_raw = '')",
    },
    ImportSource.SUBSCRIPTIONS: {
        "columns": ("client_id", "vendor_sku", "product_name", "quantity", "status", "term"),
        "clean": """
            {k} AS key, {client} AS client_ref, {vendor_sku} AS vendor_sku, {product_name} AS product_name,
            CASE WHEN {quantity} ~ '^\\d{{1,9}}$' THEN ({quantity})::integer END AS quantity, {quantity} AS quantity_raw,
            coalesce(nullif(lower({status}), ''), 'active') AS status, {term} AS term
        """,
        "checks": """
            WHEN c.quantity IS NULL THEN format('quantity "%%s" is not a whole number ≥ 0', c.quantity_raw)
            WHEN c.status NOT IN ('active', 'suspended', 'cancelled', 'pending')
                THEN format('status "%%s" is not one of active, suspended, cancelled, pending', c.status)
        """,
        "fast_checks": "c.status IN ('active', 'suspended', 'cancelled', 'pending')",
    },
}


class _RowError(Exception):
    """The fast path met a bad row: roll back, and let the full report say which."""


class StaleSnapshotError(Exception):
    """The prepared table is gone or was compared with a snapshot that is no longer live."""


class ClientGoneError(Exception):
    """A client the prepared table names was deleted after the preview."""


# --- Names ---------------------------------------------------------------------------------------


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


# --- Shared SQL ----------------------------------------------------------------------------------


def _setup(cur):
    # Big set-based passes: no JIT compile (seconds, for nothing here), room to hash and sort in
    # memory. (temp_buffers is left alone: once a session has used temporary tables, changing it
    # is an error.) No parallel workers either: the import's own connections already work side by
    # side (IMPORT_THREADS), and workers of their own would only fight them for the same cores.
    # Nothing these transactions write is live until the commit's swap, whose own (synchronous)
    # commit flushes the log up to and including everything written here: no need to wait for
    # each of them to reach the disk.
    cur.execute(
        "SET LOCAL jit = off; SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '512MB'; "
        "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL max_parallel_maintenance_workers = 0; "
        "SET LOCAL timezone = 'UTC'; SET LOCAL synchronous_commit = off"
    )


def _stage(cur, imp, fh, delimiter, names, outcome, *, share, numbered=True, end=None, scan=None):
    """COPY rows (from the file's position to ``end``, or its end) into the temporary table bo_stage
    of text columns, numbered by line when ``numbered``; ``scan`` (a _Padding) is fed every block.
    The row count, or None once the COPY error is recorded on the outcome."""
    cols = [f"c{i}" for i in range(len(names))]
    line = "line bigint GENERATED ALWAYS AS IDENTITY (START WITH 2), " if numbered else ""
    cur.execute("DROP TABLE IF EXISTS bo_stage")
    cur.execute(f"CREATE TEMP TABLE bo_stage ({line}{', '.join(f'{c} text' for c in cols)}) ON COMMIT DROP")
    copy_sql = (
        f"COPY bo_stage ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv, DELIMITER '{delimiter}', ENCODING 'UTF8', "
        f"FORCE_NOT_NULL ({', '.join(cols)}))"
    )
    start = fh.tell()
    end = imp.file_size if end is None else end
    try:
        with transaction.atomic(), cur.cursor.copy(copy_sql) as copy:
            while chunk := fh.read(min(READ_CHUNK, end - fh.tell())):
                copy.write(chunk)
                if scan is not None:
                    scan.feed(chunk)
                report_progress(imp, share * (fh.tell() - start) / max(end - start, 1))
    except Exception as exc:  # psycopg's DataError & co: say which line, in words
        outcome.add_error(*_copy_error(exc))
        return None
    return cur.cursor.rowcount  # the rows COPY read


def _clean_select(spec, names, source, *, strict, numbered=True, trim=True):
    """SELECT of the staged rows typed, trimmed, with their client resolved (external id first,
    then exact unique name). ``strict`` checks each date cell before casting (slower; the fast
    form casts every date-like cell at once and fails the statement on an impossible one).
    ``numbered``: whether the staged rows have line numbers (the fast path's do not).
    ``trim=False``: no cell has a space at either end (see ``_Padding``), so none is trimmed."""
    wanted = spec.required + spec.optional
    # Each cell trimmed once, below a fence (OFFSET 0), so what is built from it reads a column
    # instead of trimming the cell again wherever it is used. (Untrimmed cells need no fence.)
    cell = "btrim(s.c{}) AS {}" if trim else "s.c{} AS {}"
    fence = "OFFSET 0" if trim else ""
    trimmed = ", ".join(cell.format(names.index(name), name) if name in names else f"'' AS {name}" for name in wanted)
    ref = {name: f"t.{name}" for name in wanted}
    fmt = dict(ref, k=ref[spec.key])
    if "last_seen" in names:
        ls = ref["last_seen"]
        if strict:
            fmt["last_seen_case"] = (
                f"CASE WHEN {ls} = '' THEN NULL WHEN {ls} ~ %(ts)s THEN ({ls})::timestamptz "
                f"WHEN {ls} ~ '^\\d{{4}}-\\d{{1,2}}-\\d{{1,2}}' THEN pg_temp.bo_try_ts({ls}) END"
            )
        else:
            # PostgreSQL's words such as 'yesterday' are not dates here: only a cell that starts like
            # a year and a dash is cast (LIKE, three times cheaper than a regular expression); one
            # that then does not cast fails the statement, and the strict check takes over.
            fmt["last_seen_case"] = (
                f"CASE WHEN {ls} = '' THEN NULL WHEN {ls} LIKE '____-%%' THEN ({ls})::timestamptz END"
            )
    else:
        fmt["last_seen_case"] = "NULL::timestamptz"
    return f"""
        SELECT t.line, {_SQL[source]["clean"].format(**fmt)}, client.id AS client_id
        FROM (SELECT {"s.line" if numbered else "NULL::bigint"} AS line, {trimmed} FROM bo_stage s {fence}) t
        LEFT JOIN ({_client_refs(spec)}) client ON client.ref = t.client
        OFFSET 0
    """


def _client_refs(spec):
    """(ref, id): each reference to the client its external id names, else its unique name."""
    return f"""SELECT DISTINCT ON (ref) ref, id FROM (
                   SELECT {spec.client_field} AS ref, id, 1 AS rank FROM clients_client WHERE {spec.client_field} <> ''
                   UNION ALL
                   SELECT name, min(id), 2 FROM clients_client GROUP BY name HAVING count(*) = 1
               ) refs ORDER BY ref, rank"""


def _raw(spec, name):
    """The column of a _clean_select row that holds a file's cell as it came (alias c)."""
    return "c." + {spec.key: "key", "client": "client_ref", "quantity": "quantity_raw"}.get(name, name)


def _row_ok(spec, source):
    """The fast path's condition for a good row (alias c: a row of _clean_select): every required
    cell present, and the source's checks that no constraint makes. The new table refuses the rest
    itself, failing the statement (and so the fast path): an unknown client leaves client_id NULL
    (NOT NULL), a cell longer than its column (the limits in ``SourceSpec.lengths`` are the
    columns' lengths; a test keeps them so), a device type outside the list (CHECK), a quantity
    that is no whole number (NOT NULL). The full check (``report``) then says which rows."""
    present = " AND ".join(f"octet_length({_raw(spec, n)}) > 0" for n in spec.required)
    return f"{present} AND {_SQL[source]['fast_checks']}"


def _row_error(spec, source):
    """CASE giving a row's first problem (alias c: a row of _clean_select), NULL for a good row."""
    # octet_length reads the value's size; length counts its characters, needed only when the bytes
    # are over the limit.
    missing = " ".join(
        f"WHEN octet_length({_raw(spec, n)}) = 0 THEN '{n.replace('_', ' ')} is missing'" for n in spec.required
    )
    too_long = " ".join(
        f"WHEN octet_length({_raw(spec, n)}) > {limit} AND length({_raw(spec, n)}) > {limit} "
        f"THEN '{n.replace('_', ' ')} is longer than {limit} characters'"
        for n, limit in spec.lengths.items()
    )
    return f"""CASE {missing} {too_long}
        WHEN c.client_id IS NULL THEN format('unknown client "%%s"', c.client_ref)
        {_SQL[source]["checks"]} END"""


def _copy_error(exc):
    text = str(getattr(getattr(exc, "diag", None), "message_primary", None) or exc)
    context = str(getattr(getattr(exc, "diag", None), "context", None) or "")
    match = re.search(r"line (\d+)", context)
    line = int(match.group(1)) + 1 if match else None
    if "extra data after last expected column" in text:
        message = "has more fields than the header"
    elif "missing data for column" in text:
        message = "has fewer fields than the header"
    elif "unterminated CSV quoted field" in text:
        message = "a quoted value is never closed (broken quote)"
    elif "invalid byte sequence" in text or "encoding" in text.lower():
        message = "is not UTF-8 text"
    else:
        message = f"could not be read: {text}"
    return line, message


# --- The full check, for the uploader ------------------------------------------------------------


def report(imp, spec, fh, delimiter, names, outcome):
    """Check every row and put the first errors (with line numbers) and their count on the outcome.

    Writes only temporary tables; the caller runs it in a transaction it rolls back.
    """
    with connection.cursor() as cur:
        _setup(cur)
        cur.execute(
            "CREATE OR REPLACE FUNCTION pg_temp.bo_try_ts(text) RETURNS timestamptz LANGUAGE plpgsql IMMUTABLE AS "
            "$$ BEGIN RETURN $1::timestamptz; EXCEPTION WHEN others THEN RETURN NULL; END $$"
        )
        staged = _stage(cur, imp, fh, delimiter, names, outcome, share=0.6)
        if staged is None:
            return
        outcome.rows = staged
        if not staged:
            raise ImportRejectedError("The file has a header but no rows.")
        cur.execute("DROP TABLE IF EXISTS bo_clean")
        try:
            with transaction.atomic():
                cur.execute(
                    f"CREATE TEMP TABLE bo_clean ON COMMIT DROP AS {_clean_select(spec, names, imp.source, strict=False)}",
                    [],
                )
        except DataError:
            cur.execute(
                f"CREATE TEMP TABLE bo_clean ON COMMIT DROP AS {_clean_select(spec, names, imp.source, strict=True)}",
                {"ts": _TS_STRICT},
            )
        cur.execute("ANALYZE bo_clean")
        report_progress(imp, 0.8)
        cur.execute(
            f"""
            WITH errs AS (
                SELECT c.line, {_row_error(spec, imp.source)} AS message FROM bo_clean c
                UNION ALL
                SELECT c.line, format('duplicate id "%%s" (first on line %%s)', c.key, d.first)
                FROM bo_clean c JOIN (
                    SELECT key, min(line) AS first FROM bo_clean WHERE key <> '' GROUP BY key HAVING count(*) > 1
                ) d ON d.key = c.key AND c.line <> d.first
            )
            SELECT line, message, count(*) OVER () FROM errs WHERE message IS NOT NULL ORDER BY line LIMIT %(n)s
            """,
            {"n": MAX_ERRORS_KEPT},
        )
        rows = cur.fetchall()
        if rows:
            outcome.error_count = rows[0][2]
            outcome.errors = [{"line": line, "message": message} for line, message, _n in rows]


# --- The preview: the next snapshot, ready to swap in ---------------------------------------------


def build_next(imp, spec, fh, delimiter, names):
    """Prepare the import's table (see the module's docstring) and count what a commit would change.

    When every row is good: the table is kept and the outcome (rows, new / changed / gone /
    unchanged, touched) returned. When a row is bad: None, and nothing is kept; ``report`` says
    which rows. Outside a transaction on PostgreSQL, the work is shared between IMPORT_THREADS
    connections: each loads its share of the file (cut between two records) and writes its rows;
    then they build the indexes and compare side by side. Inside one (tests), everything runs
    on its connection, in its transaction.
    """
    threads = max(1, int(getattr(settings, "IMPORT_THREADS", 2)))
    parallel = threads > 1 and not connection.in_atomic_block
    try:
        if parallel:
            return _build(imp, spec, fh, delimiter, names, threads=threads)
        with transaction.atomic():
            return _build(imp, spec, fh, delimiter, names, threads=1)
    except (_RowError, DataError, IntegrityError):
        if parallel:
            drop_prepared(imp)
        return None
    except BaseException:
        if parallel:
            drop_prepared(imp)
        raise


def _build(imp, spec, fh, delimiter, names, *, threads):
    source = imp.source
    live, nxt = live_table(source), next_table(imp)
    devices = source == ImportSource.DEVICES
    columns = _SQL[source]["columns"]
    rules = rules_signature()
    book = RuleBook()
    scope = {rule.client_id for rule in book.by_id.values() if rule.client_id is not None}
    case, case_params = (book.device_case if devices else book.sku_case)(scope, alias="c")
    mapping_cols = ["mapped_product_id", "mapping_rule_id"] + (["excluded"] if devices else [])
    # What each rule maps to, written into the statement: no join per row.
    products = " ".join(
        f"WHEN {r.id} THEN {int(r.product_id)}" for r in book.by_id.values() if r.product_id and not r.exclude
    )
    excluded = ", ".join(str(r.id) for r in book.by_id.values() if r.exclude) or "NULL"
    mapping_vals = [f"CASE c.rule_id {products} END" if products else "NULL::integer", "c.rule_id"]
    if devices:
        mapping_vals.append(f"coalesce(c.rule_id IN ({excluded}), false)")
    fields = [spec.key, *columns, *mapping_cols]

    def insert(trim):
        """Every good row of the staged share, typed and mapped, in one pass; a bad one is left out
        (and so counted) or fails the statement (see _row_ok). (OFFSET 0 keeps each subquery's
        columns computed once per row instead of inlined into every condition that uses them: ten
        times faster.)"""
        return f"""INSERT INTO {nxt} ({", ".join(fields)})
            SELECT c.key, {", ".join("c." + col for col in columns)}, {", ".join(mapping_vals)}
            FROM (SELECT c.*, {case} AS rule_id
                  FROM ({_clean_select(spec, names, source, strict=False, numbered=False, trim=trim)}) c
                  WHERE {_row_ok(spec, source)} OFFSET 0) c"""

    with transaction.atomic(), connection.cursor() as cur:
        _setup(cur)
        cur.execute(f"DROP TABLE IF EXISTS {nxt}")
        cur.execute(f"CREATE TABLE {nxt} (LIKE {live} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS)")
        live_indexes = _indexes(cur, live)
        base = _oid(cur, live)
        cur.execute("SELECT reltuples FROM pg_class WHERE oid = %s", [base])
        (live_rows,) = cur.fetchone()  # the planner's count (-1: never counted)

    def load(first, end, own_file):
        """Stage one share of the file and write its good rows: (rows read, rows written)."""
        outcome, padding = Outcome(), _Padding(delimiter)
        with transaction.atomic(), connection.cursor() as cur:
            _setup(cur)
            handle = imp.file.storage.open(imp.file.name, "rb") if own_file else fh
            try:
                handle.seek(first)
                staged = _stage(
                    cur, imp, handle, delimiter, names, outcome, share=0.4, numbered=False, end=end, scan=padding
                )
            finally:
                if own_file:
                    handle.close()
            if staged is None:
                raise _RowError
            cur.execute(insert(padding.found), case_params)
            return staged, cur.rowcount

    first = fh.tell()
    shares = _shares(imp, first, threads)
    loaded = _parallel([(load, (a, b, threads > 1)) for a, b in shares], threads)
    staged = sum(read for read, _written in loaded)
    if not staged:
        raise ImportRejectedError("The file has a header but no rows.")
    if sum(written for _read, written in loaded) != staged:
        raise _RowError
    report_progress(imp, 0.6)
    jobs = _compare_and_index(spec.key, columns, live, nxt, live_indexes, live_rows, staged)
    results = dict(zip(jobs, _parallel([(_execute, statements) for statements in jobs.values()], threads), strict=True))
    outcome = _counts(results["matched"], results.get("file"), results["live"])
    outcome.rows = staged
    imp.snapshot_base, imp.snapshot_clients, imp.snapshot_rules = base, sorted(outcome.clients), rules
    SourceImport.objects.filter(pk=imp.pk).update(
        snapshot_base=base, snapshot_clients=imp.snapshot_clients, snapshot_rules=rules
    )
    return outcome


def _compare_and_index(key, columns, live, nxt, live_indexes, live_rows, file_rows):
    """The jobs after the load, by name, in the order to start them; each a tuple of statements run
    one after the other, each in its own transaction: the live table's indexes built on the new one,
    its statistics, the comparison with the live snapshot (rows: new, changed or same, old client,
    new client, count) and the live snapshot's items per client.

    ANALYZE and an index build wait for each other. The comparison either follows the build of the
    new key index (its lookups use it) or waits for nothing.
    """
    indexes = [_definition_on(d, f"{nxt}_i{i}", nxt) for i, (_n, d, _k) in enumerate(live_indexes)]
    on_key = next((i for i, (_n, d, kind) in enumerate(live_indexes) if kind == "p" and d.endswith(f"({key})")), None)
    changed = f"({', '.join('n.' + c for c in columns)}) IS DISTINCT FROM ({', '.join('t.' + c for c in columns)})"
    per_client = "SELECT client_id, count(*) FROM {} GROUP BY client_id"
    if on_key is not None and 0 <= live_rows <= file_rows:
        # The live snapshot is the smaller: look each of its items up in the new table's key index,
        # built first, rather than hash both tables whole. The items no live one matched are new:
        # the file's items per client, less the matched ones, say how many.
        compare = (
            indexes.pop(on_key),
            f"""SELECT CASE WHEN {changed} THEN 'changed' ELSE 'same' END, t.client_id, n.client_id, count(*)
                FROM {live} t CROSS JOIN LATERAL (SELECT * FROM {nxt} n WHERE n.{key} = t.{key} OFFSET 0) n
                GROUP BY 1, 2, 3""",
        )
        file = {"file": (per_client.format(nxt),)}
    else:
        compare = (
            f"""SELECT CASE WHEN t.{key} IS NULL THEN 'new' WHEN {changed} THEN 'changed' ELSE 'same' END,
                       t.client_id, n.client_id, count(*)
                FROM {nxt} n LEFT JOIN {live} t ON t.{key} = n.{key} GROUP BY 1, 2, 3""",
        )
        file = {}  # every item of the new table is in the comparison
    return {
        "matched": compare,
        **{f"index {number}": (sql,) for number, sql in enumerate(indexes)},
        **file,
        "statistics": (f"ANALYZE {nxt}",),
        "live": (per_client.format(live),),
    }


def _counts(compared, file_per_client, live_per_client):
    """new / changed / gone / unchanged and the touched clients, from the comparison grouped by
    (new, changed or same, old client, new client), the file's items per client (None: summed from
    the comparison, which then holds every item of the file) and the live snapshot's: a client has
    new items when the file names more of them than were matched, gone ones when it had more live
    items than were matched."""
    if file_per_client is None:
        file = {}
        for _op, _old_client, new_client, count in compared:
            file[new_client] = file.get(new_client, 0) + count
        file_per_client = file.items()
    outcome, counts, matched_old, matched_new = Outcome(), {}, {}, {}
    for op, old_client, new_client, count in compared:
        if op == "new":
            continue  # counted from the file's items per client, below
        counts[op] = counts.get(op, 0) + count
        matched_old[old_client] = matched_old.get(old_client, 0) + count
        matched_new[new_client] = matched_new.get(new_client, 0) + count
        if op != "same":
            outcome.touched.update((old_client, new_client))
    for client, count in file_per_client:
        outcome.clients.add(client)
        if count > matched_new.get(client, 0):
            counts["new"] = counts.get("new", 0) + count - matched_new.get(client, 0)
            outcome.touched.add(client)
    for client, count in live_per_client:
        if count > matched_old.get(client, 0):
            counts["gone"] = counts.get("gone", 0) + count - matched_old.get(client, 0)
            outcome.touched.add(client)
    outcome.new, outcome.changed = counts.get("new", 0), counts.get("changed", 0)
    outcome.gone, outcome.unchanged = counts.get("gone", 0), counts.get("same", 0)
    return outcome


def _shares(imp, first, threads):
    """[first, end) byte ranges of the file after its header, one per connection, each cut just
    after a line break outside quotes (an even number of quote characters before it, which is how
    COPY itself tells records apart)."""
    end = imp.file_size
    if threads == 1 or end - first < 2 * READ_CHUNK:
        return [(first, end)]
    cuts = [first]
    with imp.file.storage.open(imp.file.name, "rb") as fh:
        fh.seek(first)
        position, quotes = first, 0
        for k in range(1, threads):
            target = first + k * (end - first) // threads
            while position < target:
                block = fh.read(min(READ_CHUNK, target - position))
                quotes += block.count(b'"')
                position += len(block)
            cut = None
            while cut is None:
                block = fh.read(65536)
                if not block:
                    break
                start = 0
                while (newline := block.find(b"\n", start)) >= 0:
                    quotes += block.count(b'"', start, newline)
                    start = newline + 1
                    if quotes % 2 == 0:
                        cut = position + start
                        break
                quotes += block.count(b'"', start)
                position += len(block)
            if cut is None or cut >= end:
                break
            cuts.append(cut)
    cuts.append(end)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


class _Padding:
    """Might a cell start or end with a space? Fed the bytes of a share (from a line start) as they
    are staged, it looks for a space beside a delimiter, a line break or a quote (a quoted value's
    own spaces count too, and so do spaces beside a quote inside a value: when in doubt, trim).
    Trimming every cell costs more than this scan: each block has its delimiters, line breaks and
    quotes turned into one mark (NUL, which a text file does not hold; a stray one only means
    trimming) and is searched twice, at C speed."""

    def __init__(self, delimiter):
        self.marks = bytes.maketrans(delimiter.encode() + b'\r\n"', b"\0\0\0\0")
        self.previous, self.seen = b"\0", False  # a share starts a line

    def feed(self, block):
        if self.seen or not block:
            return
        block = block.translate(self.marks)
        if b" \0" in block or b"\0 " in block or self.previous + block[:1] in (b" \0", b"\0 "):
            self.seen = True
        self.previous = block[-1:]

    @property
    def found(self):
        return self.seen or self.previous == b" "


def _execute(*statements):
    """Run the statements one after the other, each in its own transaction (committed before the next
    starts, so that nothing it locked waits for the rest); the rows of the last."""
    rows = None
    for sql in statements:
        with transaction.atomic(), connection.cursor() as cur:
            _setup(cur)
            cur.execute(sql)
            rows = cur.fetchall() if cur.description else None
    return rows


def _parallel(jobs, threads):
    """Run (function, args) jobs (each opens its own transactions, with ``_setup``); side by side on
    their own connections when threads > 1. Their results, in order."""
    if threads == 1:
        return [function(*args) for function, args in jobs]

    def own_connection(function, args):
        try:
            return function(*args)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(own_connection, function, args) for function, args in jobs]
        return [future.result() for future in futures]


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


__all__ = [
    "ClientGoneError",
    "StaleSnapshotError",
    "build_next",
    "drop_prepared",
    "drop_stale_previews",
    "is_prepared",
    "prepared_tables",
    "report",
    "swap_in",
]
