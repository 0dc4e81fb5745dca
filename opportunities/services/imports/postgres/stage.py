"""Shared SQL of the PostgreSQL import engine: the staging COPY of one share of the file, the
typed and checked SELECT over it, and the errors the fast path reports."""

import re

from django.db import connection, transaction

from ....models import Device, ImportSource, Subscription
from ..outcome import report_progress
from ..specs import DEVICE_TYPE, LAST_SEEN, QUANTITY, SUBSCRIPTION_STATUS

READ_CHUNK = 1024 * 1024  # bytes streamed at a time (and the unit the file is cut into shares by)
MODELS = {ImportSource.DEVICES: Device, ImportSource.SUBSCRIPTIONS: Subscription}

_TS_STRICT = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])([ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"

_SQL = {
    ImportSource.DEVICES: {
        "columns": ("client_id", "hostname", "device_type", "os", "last_seen"),
        "clean": """
            {k} AS key, {client} AS client_ref, {hostname} AS hostname, lower({device_type} COLLATE "C") AS device_type,
            {os} AS os, {last_seen} AS last_seen_raw, {last_seen_case} AS last_seen
        """,
        "checks": f"""
            WHEN c.device_type NOT IN ({DEVICE_TYPE.sql_values()})
                THEN {DEVICE_TYPE.sql_message("c.device_type")}
            WHEN c.last_seen_raw <> '' AND c.last_seen IS NULL
                THEN {LAST_SEEN.sql_message("c.last_seen_raw")}
            WHEN c.last_seen IS NOT NULL AND NOT ({LAST_SEEN.sql_in_window("c.last_seen")})
                THEN {LAST_SEEN.sql_window_message("c.last_seen_raw")}
        """,
        # What the fast path checks besides the required cells: the new table's own constraints
        # refuse the rest (see _row_ok).
        "fast_checks": f"""(c.last_seen_raw = '' OR {LAST_SEEN.sql_in_window("c.last_seen")})""",
    },
    ImportSource.SUBSCRIPTIONS: {
        "columns": ("client_id", "vendor_sku", "product_name", "quantity", "status", "term"),
        "clean": """
            {k} AS key, {client} AS client_ref, {vendor_sku} AS vendor_sku, {product_name} AS product_name,
            """
        + QUANTITY.sql_value("quantity")
        + """ AS quantity, {quantity} AS quantity_raw,
            coalesce(nullif(lower({status}), ''), 'active') AS status, {term} AS term
        """,
        "checks": f"""
            WHEN c.quantity IS NULL THEN {QUANTITY.sql_message("c.quantity_raw")}
            WHEN c.status NOT IN ({SUBSCRIPTION_STATUS.sql_values()})
                THEN {SUBSCRIPTION_STATUS.sql_message("c.status")}
        """,
        "fast_checks": f"c.status IN ({SUBSCRIPTION_STATUS.sql_values()})",
    },
}


class _RowError(Exception):
    """The fast path met a bad row: roll back, and let the full report say which."""


class StaleSnapshotError(Exception):
    """The prepared table is gone or was compared with a snapshot that is no longer live."""


class ClientGoneError(Exception):
    """A client the prepared table names was deleted after the preview."""


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


class _UnixLineEndings:
    """Every CRLF becomes LF on its way to COPY, which insists on one line-ending style per file (a
    file whose lines mix LF and CRLF would be refused, while the Python engine reads it); a CR at the
    very end of a block is held back to join the LF that may open the next."""

    def __init__(self):
        self.held = b""

    def feed(self, block: bytes) -> bytes:
        block, self.held = self.held + block, b""
        if block.endswith(b"\r"):
            block, self.held = block[:-1], b"\r"
        return block.replace(b"\r\n", b"\n")

    def rest(self) -> bytes:
        return self.held


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
    line_endings = _UnixLineEndings()
    try:
        with transaction.atomic(), cur.cursor.copy(copy_sql) as copy:
            while chunk := fh.read(min(READ_CHUNK, end - fh.tell())):
                copy.write(line_endings.feed(chunk))
                if scan is not None:
                    scan.feed(chunk)
                report_progress(imp, share * (fh.tell() - start) / max(end - start, 1))
            copy.write(line_endings.rest())
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
