"""The preview: the next snapshot built as a table of its own; and the full check, for the uploader."""

from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction

from billingone.parallel import run_side_by_side

from ....models import ImportSource, SourceImport
from ....selectors import rules_signature
from ...rules import RuleBook
from ..outcome import MAX_ERRORS_KEPT, ImportRejectedError, Outcome, report_progress
from . import stage
from .compare import _compare_and_index, _counts
from .stage import (
    _SQL,
    _TS_STRICT,
    _clean_select,
    _execute,
    _Padding,
    _row_error,
    _row_ok,
    _RowError,
    _setup,
    _stage,
)
from .swap import _indexes, _oid, drop_prepared, live_table, next_table

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


def _mapping_sql(book, *, devices) -> tuple[list[str], list[str]]:
    """The mapping columns and what each row gets in them: what each rule maps to, written into the
    statement (no join per row)."""
    mapping_cols = ["mapped_product_id", "mapping_rule_id"] + (["excluded"] if devices else [])
    products = " ".join(
        f"WHEN {r.id} THEN {int(r.product_id)}" for r in book.by_id.values() if r.product_id and not r.exclude
    )
    excluded = ", ".join(str(r.id) for r in book.by_id.values() if r.exclude) or "NULL"
    mapping_vals = [f"CASE c.rule_id {products} END" if products else "NULL::integer", "c.rule_id"]
    if devices:
        mapping_vals.append(f"coalesce(c.rule_id IN ({excluded}), false)")
    return mapping_cols, mapping_vals


def _build(imp, spec, fh, delimiter, names, *, threads):
    source = imp.source
    live, nxt = live_table(source), next_table(imp)
    devices = source == ImportSource.DEVICES
    columns = _SQL[source]["columns"]
    rules = rules_signature()
    book = RuleBook()
    scope = {rule.client_id for rule in book.by_id.values() if rule.client_id is not None}
    case, case_params = (book.device_case if devices else book.sku_case)(scope, alias="c")
    mapping_cols, mapping_vals = _mapping_sql(book, devices=devices)
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
    loaded = run_side_by_side([(load, (a, b, threads > 1)) for a, b in shares], threads=threads)
    staged = sum(read for read, _written in loaded)
    if not staged:
        raise ImportRejectedError("The file has a header but no rows.")
    if sum(written for _read, written in loaded) != staged:
        raise _RowError
    report_progress(imp, 0.6)
    jobs = _compare_and_index(spec.key, columns, live, nxt, live_indexes, live_rows, staged)
    done = run_side_by_side([(_execute, statements) for statements in jobs.values()], threads=threads)
    results = dict(zip(jobs, done, strict=True))
    outcome = _counts(results["matched"], results.get("file"), results["live"])
    outcome.rows = staged
    imp.snapshot_base, imp.snapshot_clients, imp.snapshot_rules = base, sorted(outcome.clients), rules
    SourceImport.objects.filter(pk=imp.pk).update(
        snapshot_base=base, snapshot_clients=imp.snapshot_clients, snapshot_rules=rules
    )
    return outcome


def _shares(imp, first, threads):
    """[first, end) byte ranges of the file after its header, one per connection, each cut just
    after a line break outside quotes (an even number of quote characters before it, which is how
    COPY itself tells records apart)."""
    end = imp.file_size
    if threads == 1 or end - first < 2 * stage.READ_CHUNK:
        return [(first, end)]
    cuts = [first]
    with imp.file.storage.open(imp.file.name, "rb") as fh:
        fh.seek(first)
        position, quotes = first, 0
        for k in range(1, threads):
            target = first + k * (end - first) // threads
            while position < target:
                block = fh.read(min(stage.READ_CHUNK, target - position))
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
