"""CSV imports of the source snapshots: devices (RMM), subscriptions (distributor), contract lines (PSA).

Upload → check (header, then every row, with line numbers) → preview (new / changed /
gone) → commit, all or nothing. A committed import replaces that source's snapshot and
queues detection for the clients it touched.

Two engines, one behaviour:

- PostgreSQL, devices and subscriptions: the file is streamed into a temporary
  staging table with ``COPY`` (never whole in memory), then validated and merged
  with a handful of set-based statements.
- Everything else (SQLite; contract lines, which are few and audited per line):
  the file is streamed through Python's ``csv`` reader and written with bulk
  operations.

Real exports arrive with a UTF-8 BOM, Windows line endings or semicolons: all
accepted. A cell starting with ``=`` is stored as text; nothing here evaluates it.
"""

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.db import DatabaseError, DataError, connection, transaction
from django.utils import timezone

from clients.models import Client, Contract, ContractChange, ContractLine, Product

from ..models import Device, DeviceType, ImportSource, SourceImport, Subscription, SubscriptionStatus

MAX_ERRORS_KEPT = 50
BACKGROUND_BYTES = 2 * 1024 * 1024  # files larger than this are checked and committed by a worker
READ_CHUNK = 1024 * 1024


class ImportRejectedError(Exception):
    """The file cannot be imported; the message says why, in words for the uploader."""


@dataclass(frozen=True)
class SourceSpec:
    key: str
    required: tuple
    optional: tuple
    client_field: str  # the client's external id for this source
    lengths: dict = field(default_factory=dict)


SPECS = {
    ImportSource.DEVICES: SourceSpec(
        key="device_id",
        required=("device_id", "client", "hostname", "device_type"),
        optional=("os", "last_seen"),
        client_field="rmm_id",
        lengths={"device_id": 100, "hostname": 255, "os": 200},
    ),
    ImportSource.SUBSCRIPTIONS: SourceSpec(
        key="subscription_id",
        required=("subscription_id", "client", "vendor_sku", "product_name", "quantity"),
        optional=("status", "term"),
        client_field="distributor_id",
        lengths={"subscription_id": 100, "vendor_sku": 100, "product_name": 255, "term": 40},
    ),
    ImportSource.CONTRACT_LINES: SourceSpec(
        key="line_id",
        required=("line_id", "contract", "product_sku", "quantity", "unit_price"),
        optional=("client",),
        client_field="psa_id",
        lengths={"line_id": 64},
    ),
}


@dataclass
class Outcome:
    rows: int = 0
    new: int = 0
    changed: int = 0
    gone: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list = field(default_factory=list)  # [{"line": n, "message": "..."}]
    touched: set = field(default_factory=set)
    message: str = ""

    def add_error(self, line, message):
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append({"line": line, "message": message})


class _InvalidError(Exception):
    """Raised inside the commit transaction to roll everything back."""


# --- Services -------------------------------------------------------------------------------


def create_import(*, source: str, uploaded_file, actor=None) -> SourceImport:
    """Keep an uploaded file as a pending import. Refuses an unknown source or an oversized file."""
    if source not in ImportSource.values:
        raise ImportRejectedError("Choose what the file contains: devices, subscriptions or contract lines.")
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if uploaded_file.size > limit:
        raise ImportRejectedError(
            f"The file is {uploaded_file.size / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.0f} MB."
        )
    if uploaded_file.size == 0:
        raise ImportRejectedError("The file is empty.")
    name = (getattr(uploaded_file, "name", "") or "upload.csv").rsplit("/", 1)[-1][:255]
    return SourceImport.objects.create(
        source=source,
        file=File(uploaded_file, name=name),
        file_name=name,
        file_size=uploaded_file.size,
        uploaded_by=actor,
    )


def runs_in_background(imp: SourceImport) -> bool:
    return imp.file_size > BACKGROUND_BYTES


def validate_import(*, imp: SourceImport) -> SourceImport:
    """Check the file and count what a commit would do; changes nothing but the import record."""
    _set_status(imp, SourceImport.Status.VALIDATING)
    outcome = Outcome()
    try:
        with transaction.atomic():
            _process(imp, outcome, commit=False)
            raise _InvalidError  # a dry run: whatever was staged goes away
    except _InvalidError:
        pass
    except ImportRejectedError as exc:
        outcome.add_error(None, str(exc))
    status = SourceImport.Status.INVALID if outcome.error_count else SourceImport.Status.READY
    return _finish(imp, outcome, status)


def commit_import(*, imp: SourceImport, actor=None, queue_detection=True) -> SourceImport:
    """Replace the source's snapshot with the file, all or nothing; queue detection for touched clients.

    ``queue_detection=False`` is for callers that run detection themselves (the demo seed).
    """
    if imp.status == SourceImport.Status.COMMITTED:
        return imp
    # A file the preview found clean needs only what can change meanwhile (its clients) re-checked.
    checked = imp.status == SourceImport.Status.READY
    _set_status(imp, SourceImport.Status.COMMITTING)
    outcome = Outcome()
    try:
        with transaction.atomic():
            # One commit per source at a time (PostgreSQL; SQLite serialises writers anyway), and
            # the import itself locked, so a double-submitted commit finds it already committed.
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock(%s, %s)", [7301, ImportSource.values.index(imp.source)]
                    )
            if SourceImport.objects.select_for_update().get(pk=imp.pk).status == SourceImport.Status.COMMITTED:
                imp.refresh_from_db()
                return imp
            _process(imp, outcome, commit=True, checked=checked)
            if outcome.error_count:
                raise _InvalidError
            imp.status = SourceImport.Status.COMMITTED
            imp.committed_at = timezone.now()
            imp.committed_by = actor or imp.committed_by
            _finish(imp, outcome, SourceImport.Status.COMMITTED)
            if outcome.touched and queue_detection:
                from ..tasks import detect_clients

                ids, pk = sorted(outcome.touched), imp.pk
                transaction.on_commit(lambda: detect_clients.delay(ids, import_id=pk))
            return imp
    except _InvalidError:
        pass
    except ImportRejectedError as exc:
        outcome.add_error(None, str(exc))
    except DatabaseError as exc:
        # Nothing was changed (the transaction rolled back); say so instead of failing the page.
        outcome = Outcome(message=f"The import could not be committed and changed nothing: {exc}"[:500])
        return _finish(imp, outcome, SourceImport.Status.FAILED)
    outcome.new = outcome.changed = outcome.gone = outcome.unchanged = 0
    outcome.touched = set()
    return _finish(imp, outcome, SourceImport.Status.INVALID)


@transaction.atomic
def discard_import(*, imp: SourceImport) -> SourceImport:
    """Drop an import that was not committed (its record stays, as history)."""
    locked = SourceImport.objects.select_for_update().get(pk=imp.pk)
    if locked.status not in (SourceImport.Status.COMMITTED, SourceImport.Status.COMMITTING):
        locked.status = SourceImport.Status.DISCARDED
        locked.save(update_fields=["status"])
    return locked


def import_path(*, source: str, path: str, actor=None, queue_detection=True) -> SourceImport:
    """Import a file from disk (the management command): keep it, check it, commit it."""
    with open(path, "rb") as fh:
        fh.size = fh.seek(0, io.SEEK_END)
        fh.seek(0)
        imp = create_import(source=source, uploaded_file=File(fh, name=path.rsplit("/", 1)[-1]), actor=actor)
    return commit_import(imp=imp, actor=actor, queue_detection=queue_detection)


def progress_of(imp: SourceImport) -> int:
    value = cache.get(_progress_key(imp.pk))
    return imp.progress if value is None else int(value)


# --- Bookkeeping -----------------------------------------------------------------------------


def _progress_key(pk):
    return f"opportunities:import-progress:{pk}"


def _report_progress(imp, fraction):
    # Not in the import's transaction (which nobody else can see until it commits).
    cache.set(_progress_key(imp.pk), max(0, min(99, int(fraction * 100))), 3600)


def _set_status(imp, status):
    imp.status = status
    imp.progress = 0
    SourceImport.objects.filter(pk=imp.pk).update(status=status, progress=0)
    cache.set(_progress_key(imp.pk), 0, 3600)


def _finish(imp, outcome, status):
    imp.status = status
    imp.progress = 100
    imp.rows_total = outcome.rows
    imp.count_new, imp.count_changed, imp.count_gone = outcome.new, outcome.changed, outcome.gone
    imp.count_unchanged = outcome.unchanged
    imp.error_count = outcome.error_count
    imp.errors = sorted(outcome.errors, key=lambda e: (e["line"] is not None, e["line"] or 0))
    imp.touched_client_ids = sorted(outcome.touched)
    imp.message = outcome.message[:500]
    imp.save()
    cache.set(_progress_key(imp.pk), 100, 3600)
    return imp


# --- Reading the file --------------------------------------------------------------------------


# Column names real exports use (NinjaOne, Datto RMM, Pax8, PSAs), after normalising.
HEADER_ALIASES = {
    "organization": "client",
    "organisation": "client",
    "customer": "client",
    "company": "client",
    "company_id": "client",
    "customer_id": "client",
    "client_id": "client",
    "site": "client",
    "type": "device_type",
    "node_class": "device_type",
    "device_class": "device_type",
    "last_contact": "last_seen",
    "last_seen_at": "last_seen",
    "last_online": "last_seen",
    "operating_system": "os",
    "sku": "vendor_sku",
    "product": "product_name",
    "qty": "quantity",
    "seats": "quantity",
    "billing_term": "term",
    "line": "line_id",
    "contract_number": "contract",
    "product_code": "product_sku",
    "price": "unit_price",
}


def _norm_header(name: str) -> str:
    name = re.sub(r"[\s\-]+", "_", name.strip().strip('"').strip().lower())
    return HEADER_ALIASES.get(name, name)


def _open_checked(imp, spec):
    """Open the stored file, check it is text CSV with the right header.

    Returns (binary file positioned after the header line, delimiter, header names).
    """
    fh = imp.file.open("rb")
    head = fh.read(8192)
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        fh.close()
        raise ImportRejectedError("The file is empty.")
    if b"\x00" in head:
        fh.close()
        raise ImportRejectedError("This is not a CSV file (it contains binary data).")
    fh.seek(0)
    raw = fh.readline()
    try:
        header_line = raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        fh.close()
        raise ImportRejectedError("The file is not UTF-8 text; export it as CSV (UTF-8).") from None
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    names = [_norm_header(h) for h in next(csv.reader([header_line], delimiter=delimiter))]
    missing = [c for c in spec.required if c not in names]
    if missing or len(set(names)) != len(names):
        fh.close()
        expected = ", ".join(spec.required + tuple(f"[{c}]" for c in spec.optional))
        problem = f"missing {', '.join(missing)}" if missing else "a column name appears twice"
        raise ImportRejectedError(f"The header is wrong ({problem}). Expected columns: {expected}.")
    return fh, delimiter, names


def _client_lookup(spec):
    by_ext, by_name, dup_names = {}, {}, set()
    for pk, ext, name in Client.objects.values_list("pk", spec.client_field, "name"):
        if ext:
            by_ext[ext] = pk
        if name in by_name:
            dup_names.add(name)
        by_name[name] = pk
    for name in dup_names:
        del by_name[name]
    return lambda ref: by_ext.get(ref) or by_name.get(ref)


def _process(imp, outcome, *, commit, checked=False):
    spec = SPECS[imp.source]
    fh, delimiter, names = _open_checked(imp, spec)
    with fh:
        if connection.vendor == "postgresql" and imp.source in (ImportSource.DEVICES, ImportSource.SUBSCRIPTIONS):
            _pg_process(imp, spec, fh, delimiter, names, outcome, commit=commit, checked=checked)
        else:
            _py_process(imp, spec, fh, delimiter, names, outcome, commit=commit)


# --- The Python engine ---------------------------------------------------------------------------


def _parse_ts(text):
    value = dt.datetime.fromisoformat(text.replace(" ", "T", 1) if " " in text else text)
    return value if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)


def _py_row(source, spec, get, resolve_client, lookups):
    """One row → (key, client_id, values) or raises ValueError(message)."""
    key = get(spec.key)
    for name in spec.required:
        if not get(name):
            raise ValueError(f"{name.replace('_', ' ')} is missing")
    for name, limit in spec.lengths.items():
        if len(get(name)) > limit:
            raise ValueError(f"{name.replace('_', ' ')} is longer than {limit} characters")
    if source == ImportSource.CONTRACT_LINES:
        contract = lookups["contracts"].get(get("contract"))
        if contract is None:
            raise ValueError(f'unknown contract "{get("contract")}"')
        if get("client") and resolve_client(get("client")) != contract[1]:
            raise ValueError(f'contract "{get("contract")}" does not belong to client "{get("client")}"')
        product_id = lookups["products"].get(get("product_sku").upper())
        if product_id is None:
            raise ValueError(f'unknown product SKU "{get("product_sku")}"')
        quantity = _int(get("quantity"))
        try:
            price = Decimal(get("unit_price").replace(",", "."))
        except InvalidOperation:
            raise ValueError(f'unit price "{get("unit_price")}" is not a number') from None
        if price < 0 or price != price.quantize(Decimal("0.01")) or price >= Decimal("1e12"):
            raise ValueError(f'unit price "{get("unit_price")}" is not an amount of money')
        return key, contract[1], (contract[0], product_id, quantity, price.quantize(Decimal("0.01")))
    client_id = resolve_client(get("client"))
    if client_id is None:
        raise ValueError(f'unknown client "{get("client")}"')
    if source == ImportSource.DEVICES:
        device_type = get("device_type").lower()
        if device_type not in DeviceType.values:
            raise ValueError(f'device type "{get("device_type")}" is not one of {", ".join(DeviceType.values)}')
        last_seen = None
        if get("last_seen"):
            try:
                last_seen = _parse_ts(get("last_seen"))
            except ValueError:
                raise ValueError(f'last seen "{get("last_seen")}" is not a date and time') from None
        return key, client_id, (client_id, get("hostname"), device_type, get("os"), last_seen)
    quantity = _int(get("quantity"))
    status = get("status").lower() or SubscriptionStatus.ACTIVE
    if status not in SubscriptionStatus.values:
        raise ValueError(f'status "{get("status")}" is not one of {", ".join(SubscriptionStatus.values)}')
    return key, client_id, (client_id, get("vendor_sku"), get("product_name"), quantity, status, get("term"))


def _int(text):
    if not re.fullmatch(r"\d{1,9}", text):
        raise ValueError(f'quantity "{text}" is not a whole number ≥ 0')
    return int(text)


PY_FIELDS = {
    ImportSource.DEVICES: ("client_id", "hostname", "device_type", "os", "last_seen"),
    ImportSource.SUBSCRIPTIONS: ("client_id", "vendor_sku", "product_name", "quantity", "status", "term"),
    ImportSource.CONTRACT_LINES: ("contract_id", "product_id", "quantity", "unit_price"),
}


def _existing(source):
    """key -> (pk, client_id, values) of the current snapshot."""
    if source == ImportSource.DEVICES:
        qs = Device.objects.values_list("device_id", "pk", "client_id", *PY_FIELDS[source])
    elif source == ImportSource.SUBSCRIPTIONS:
        qs = Subscription.objects.values_list("subscription_id", "pk", "client_id", *PY_FIELDS[source])
    else:
        qs = ContractLine.objects.exclude(external_id="").values_list(
            "external_id", "pk", "contract__client_id", *PY_FIELDS[source]
        )
    return {row[0]: (row[1], row[2], tuple(row[3:])) for row in qs.iterator(chunk_size=5000)}


def _py_process(imp, spec, fh, delimiter, names, outcome, *, commit):
    source = imp.source
    resolve_client = _client_lookup(spec)
    lookups = {}
    if source == ImportSource.CONTRACT_LINES:
        lookups["contracts"] = {n: (pk, c) for pk, n, c in Contract.objects.values_list("pk", "number", "client_id")}
        lookups["products"] = {sku.upper(): pk for pk, sku in Product.objects.values_list("pk", "sku")}
    index = {name: i for i, name in enumerate(names)}
    text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    seen = {}  # key -> first line
    parsed = {}  # key -> (client_id, values)
    line = 1
    total = max(imp.file_size, 1)
    try:
        for row in reader:
            line += 1
            if not row or row == [""]:
                continue
            outcome.rows += 1
            if len(row) != len(names):
                more = "more" if len(row) > len(names) else "fewer"
                outcome.add_error(line, f"has {more} fields than the header ({len(row)}, expected {len(names)})")
                continue
            cells = [cell.strip() for cell in row]

            def get(name, cells=cells):
                return cells[index[name]] if name in index else ""

            try:
                key, client_id, values = _py_row(source, spec, get, resolve_client, lookups)
            except ValueError as exc:
                outcome.add_error(line, str(exc))
                continue
            if key in seen:
                outcome.add_error(line, f'duplicate id "{key}" (first on line {seen[key]})')
                continue
            seen[key] = line
            parsed[key] = (client_id, values)
            if outcome.rows % 20000 == 0:
                _report_progress(imp, 0.8 * fh.tell() / total)
    except csv.Error as exc:
        outcome.add_error(line + 1, f"the CSV is broken here ({exc}); check for a quote that is never closed")
    except UnicodeDecodeError:
        outcome.add_error(line + 1, "this line is not UTF-8 text")
    finally:
        text.detach()
    if outcome.error_count:
        return
    if not outcome.rows:
        raise ImportRejectedError("The file has a header but no rows.")
    existing = _existing(source)
    new, changed = [], []
    for key, (client_id, values) in parsed.items():
        current = existing.pop(key, None)
        if current is None:
            new.append((key, values))
            outcome.touched.add(client_id)
        elif current[2] != values:
            changed.append((current[0], values))
            outcome.touched.update((client_id, current[1]))
        else:
            outcome.unchanged += 1
    gone = [(pk, client_id) for pk, client_id, _values in existing.values()]
    outcome.touched.update(client_id for _pk, client_id in gone)
    outcome.new, outcome.changed, outcome.gone = len(new), len(changed), len(gone)
    if commit:
        _py_write(imp, new, changed, gone)


def _py_write(imp, new, changed, gone):
    source = imp.source
    fields = PY_FIELDS[source]
    model = {ImportSource.DEVICES: Device, ImportSource.SUBSCRIPTIONS: Subscription}.get(source, ContractLine)
    key_field = {ImportSource.DEVICES: "device_id", ImportSource.SUBSCRIPTIONS: "subscription_id"}.get(
        source, "external_id"
    )
    gone_ids = [pk for pk, _client in gone]
    audit = []
    if source == ImportSource.CONTRACT_LINES:
        # The contract audit trail: one entry per line added, changed or removed.
        products = dict(Product.objects.values_list("pk", "sku"))
        for line in ContractLine.objects.filter(pk__in=gone_ids).select_related("product"):
            audit.append(
                (
                    line.contract_id,
                    None,
                    ContractChange.Action.LINE_REMOVED,
                    f"Import removed {line.external_id}: {line.quantity} × {line.product.sku}",
                )
            )
    for start in range(0, len(gone_ids), 5000):
        model.objects.filter(pk__in=gone_ids[start : start + 5000]).delete()
    objs = []
    for pk, values in changed:
        obj = model(pk=pk, **dict(zip(fields, values, strict=True)))
        objs.append(obj)
        if source == ImportSource.CONTRACT_LINES:
            audit.append(
                (
                    obj.contract_id,
                    pk,
                    ContractChange.Action.LINE_CHANGED,
                    f"Import set {products[obj.product_id]} to {obj.quantity} × {obj.unit_price}",
                )
            )
    model.objects.bulk_update(objs, list(fields), batch_size=1000)
    created = model.objects.bulk_create(
        [model(**{key_field: key}, **dict(zip(fields, values, strict=True))) for key, values in new], batch_size=2000
    )
    if source == ImportSource.CONTRACT_LINES:
        for obj in created:
            audit.append(
                (
                    obj.contract_id,
                    obj.pk,
                    ContractChange.Action.LINE_ADDED,
                    f"Import added {obj.external_id}: {obj.quantity} × {products[obj.product_id]} at {obj.unit_price}",
                )
            )
        ContractChange.objects.bulk_create(
            [
                ContractChange(
                    contract_id=cid, line_id=lid, action=act, detail=text[:500], actor=imp.uploaded_by, source="import"
                )
                for cid, lid, act, text in audit
            ],
            batch_size=2000,
        )


# --- The PostgreSQL engine -----------------------------------------------------------------------

_TS_STRICT = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])([ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"

_PG_SQL = {
    ImportSource.DEVICES: {
        "table": "opportunities_device",
        "columns": ("client_id", "hostname", "device_type", "os", "last_seen"),
        "clean": """
            {k} AS key, {client} AS client_ref, {hostname} AS hostname, lower({device_type}) AS device_type,
            {os} AS os, {last_seen} AS last_seen_raw, {last_seen_case} AS last_seen
        """,
        "checks": """
            WHEN lower(c.device_type) NOT IN ('workstation', 'server', 'network', 'other')
                THEN format('device type "%%s" is not one of workstation, server, network, other', c.device_type)
            WHEN c.last_seen_raw <> '' AND c.last_seen IS NULL
                THEN format('last seen "%%s" is not a date and time', c.last_seen_raw)
        """,
    },
    ImportSource.SUBSCRIPTIONS: {
        "table": "opportunities_subscription",
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
    },
}


def _pg_process(imp, spec, fh, delimiter, names, outcome, *, commit, checked=False):
    conf = _PG_SQL[imp.source]
    cols = [f"c{i}" for i in range(len(names))]
    ref = {name: f"btrim(s.c{names.index(name)})" if name in names else "''" for name in spec.required + spec.optional}
    total = max(imp.file_size, 1)
    with connection.cursor() as cur:
        # One big set-based pass: no JIT compile (seconds, for nothing here), room to hash and sort
        # in memory. (temp_buffers is left alone: once a session has used temporary tables,
        # changing it is an error.)
        cur.execute("SET LOCAL jit = off")
        cur.execute("SET LOCAL work_mem = '256MB'")
        cur.execute("DROP TABLE IF EXISTS bo_stage, bo_clean, bo_diff")
        cur.execute(
            "CREATE OR REPLACE FUNCTION pg_temp.bo_try_ts(text) RETURNS timestamptz LANGUAGE plpgsql IMMUTABLE AS "
            "$$ BEGIN RETURN $1::timestamptz; EXCEPTION WHEN others THEN RETURN NULL; END $$"
        )
        cur.execute("SET LOCAL timezone = 'UTC'")
        cur.execute(
            "CREATE TEMP TABLE bo_stage (line bigint GENERATED ALWAYS AS IDENTITY (START WITH 2), "
            + ", ".join(f"{c} text" for c in cols)
            + ") ON COMMIT DROP"
        )
        # 1. COPY the raw rows (after our header line) straight from the file.
        copy_sql = (
            f"COPY bo_stage ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv, DELIMITER '{delimiter}', ENCODING 'UTF8', "
            f"FORCE_NOT_NULL ({', '.join(cols)}))"
        )
        try:
            with transaction.atomic(), cur.cursor.copy(copy_sql) as copy:
                while chunk := fh.read(READ_CHUNK):
                    copy.write(chunk)
                    _report_progress(imp, 0.6 * fh.tell() / total)
        except Exception as exc:  # psycopg's DataError & co: say which line, in words
            outcome.add_error(*_copy_error(exc))
            return
        # 2. Typed, trimmed rows with their client resolved (external id first, then exact unique name).
        fmt = {name: expr for name, expr in ref.items()}
        fmt["k"] = ref[spec.key]
        if "last_seen" in names:
            # Strict ISO dates cast directly; anything else date-like goes through a forgiving cast
            # (PostgreSQL's words such as 'yesterday' are not dates here).
            fmt["last_seen_case"] = (
                "CASE WHEN {ls} = '' THEN NULL WHEN {ls} ~ %(ts)s THEN ({ls})::timestamptz "
                "WHEN {ls} ~ '^\\d{{4}}-\\d{{1,2}}-\\d{{1,2}}' THEN pg_temp.bo_try_ts({ls}) END"
            ).format(ls=ref["last_seen"])
            fmt["last_seen_fast"] = (
                "CASE WHEN {ls} = '' THEN NULL WHEN {ls} ~ '^[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}' "
                "THEN ({ls})::timestamptz END"
            ).format(ls=ref["last_seen"])
        else:
            fmt["last_seen_case"] = fmt["last_seen_fast"] = "NULL::timestamptz"
        create_clean = f"""
            CREATE TEMP TABLE bo_clean ON COMMIT DROP AS
            SELECT s.line, x.*, coalesce(byid.id, byname.id) AS client_id
            FROM bo_stage s
            CROSS JOIN LATERAL (SELECT {{clean}}) x
            LEFT JOIN clients_client byid ON byid.{spec.client_field} = btrim(s.c{names.index("client")})
                AND byid.{spec.client_field} <> ''
            LEFT JOIN (SELECT name, min(id) AS id FROM clients_client GROUP BY name HAVING count(*) = 1) byname
                ON byname.name = btrim(s.c{names.index("client")})
            """
        try:
            # Fast path: cast every date-like cell at once. The strict per-cell checks cost seconds
            # on a million rows, so they run only when a cell turns out not to be a valid date.
            with transaction.atomic():
                fast = dict(fmt, last_seen_case=fmt["last_seen_fast"])
                cur.execute(create_clean.format(clean=conf["clean"].format(**fast)))
        except DataError:
            cur.execute(create_clean.format(clean=conf["clean"].format(**fmt)), {"ts": _TS_STRICT})
        outcome.rows = cur.rowcount
        cur.execute("ANALYZE bo_clean")  # temporary tables are never auto-analysed: give the planner real counts
        _report_progress(imp, 0.7)
        if not outcome.rows:
            raise ImportRejectedError("The file has a header but no rows.")
        # 3. Row errors, with line numbers: the first MAX_ERRORS_KEPT and how many in all.
        alias = {spec.key: "key", "client": "client_ref", "quantity": "quantity_raw"}
        missing = " ".join(
            f"WHEN c.{alias.get(n, n)} = '' THEN '{n.replace('_', ' ')} is missing'" for n in spec.required
        )
        too_long = " ".join(
            f"WHEN length(c.{alias.get(n, n)}) > {limit} THEN '{n.replace('_', ' ')} is longer than {limit} characters'"
            for n, limit in spec.lengths.items()
        )
        if checked:
            # The stored file passed every check at preview; only its clients can have changed.
            errors_sql = """
                SELECT c.line, format('unknown client "%%s"', c.client_ref), count(*) OVER ()
                FROM bo_clean c WHERE c.client_id IS NULL ORDER BY c.line LIMIT %(n)s
            """
        else:
            errors_sql = f"""
            WITH errs AS (
                SELECT c.line, CASE {missing} {too_long}
                    WHEN c.client_id IS NULL THEN format('unknown client "%%s"', c.client_ref)
                    {conf["checks"]} END AS message
                FROM bo_clean c
                UNION ALL
                SELECT c.line, format('duplicate id "%%s" (first on line %%s)', c.key, d.first)
                FROM bo_clean c JOIN (
                    SELECT key, min(line) AS first FROM bo_clean WHERE key <> '' GROUP BY key HAVING count(*) > 1
                ) d ON d.key = c.key AND c.line <> d.first
            )
            SELECT line, message, count(*) OVER () FROM errs WHERE message IS NOT NULL ORDER BY line LIMIT %(n)s
            """
        cur.execute(errors_sql, {"n": MAX_ERRORS_KEPT})
        rows = cur.fetchall()
        if rows:
            outcome.error_count = rows[0][2]
            outcome.errors = [{"line": line, "message": message} for line, message, _n in rows]
            return
        _report_progress(imp, 0.8)
        # 4. The difference with the current snapshot, once, then counts and writes from it.
        table, columns = conf["table"], conf["columns"]
        key_col = spec.key
        distinct = f"({', '.join('t.' + c for c in columns)}) IS DISTINCT FROM ({', '.join('c.' + c for c in columns)})"
        cur.execute(
            f"""
            CREATE TEMP TABLE bo_diff ON COMMIT DROP AS
            SELECT CASE WHEN t.id IS NULL THEN 'new' WHEN c.line IS NULL THEN 'gone'
                        WHEN {distinct} THEN 'changed' ELSE 'same' END AS op,
                   t.id AS pk, t.client_id AS old_client, c.client_id AS new_client, c.line
            FROM bo_clean c FULL JOIN {table} t ON t.{key_col} = c.key
            """
        )
        cur.execute("ANALYZE bo_diff")
        cur.execute("SELECT op, count(*) FROM bo_diff GROUP BY op")
        counts = dict(cur.fetchall())
        outcome.new, outcome.changed = counts.get("new", 0), counts.get("changed", 0)
        outcome.gone, outcome.unchanged = counts.get("gone", 0), counts.get("same", 0)
        cur.execute(
            "SELECT DISTINCT x FROM bo_diff, LATERAL (VALUES (old_client), (new_client)) v(x) "
            "WHERE op <> 'same' AND x IS NOT NULL"
        )
        outcome.touched = {row[0] for row in cur.fetchall()}
        if not commit:
            return
        _report_progress(imp, 0.85)
        # The snapshot tables have no foreign-key constraint (speed): keep every client the file
        # names from being deleted until this transaction ends, and refuse if one already was.
        cur.execute(
            "SELECT count(*) FROM (SELECT id FROM clients_client WHERE id IN (SELECT DISTINCT client_id FROM bo_clean) "
            "FOR KEY SHARE) locked"
        )
        (locked,) = cur.fetchone()
        cur.execute("SELECT count(DISTINCT client_id) FROM bo_clean")
        (named,) = cur.fetchone()
        if locked != named:
            raise ImportRejectedError("A client named in the file was deleted meanwhile; nothing was imported.")
        cur.execute(f"DELETE FROM {table} t USING bo_diff d WHERE d.op = 'gone' AND t.id = d.pk")
        sets = ", ".join(f"{c} = c.{c}" for c in columns)
        # A changed item is mapped afresh by the detection run this import queues.
        cur.execute(
            f"UPDATE {table} t SET {sets} FROM bo_diff d JOIN bo_clean c ON c.line = d.line "
            f"WHERE d.op = 'changed' AND t.id = d.pk"
        )
        extra_cols, extra_vals = ("excluded",), ("false",)
        if imp.source == ImportSource.SUBSCRIPTIONS:
            extra_cols, extra_vals = (), ()
        cur.execute(
            f"INSERT INTO {table} ({key_col}, {', '.join(columns + extra_cols)}) "
            f"SELECT c.key, {', '.join(['c.' + c for c in columns] + list(extra_vals))} "
            f"FROM bo_diff d JOIN bo_clean c ON c.line = d.line WHERE d.op = 'new' "
            # In key order: the unique-key indexes then grow at their end instead of all over.
            f"ORDER BY c.key"
        )


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


def summary_counts():
    """How many items each source holds now (for the imports page)."""
    return {
        ImportSource.DEVICES: Device.objects.count(),
        ImportSource.SUBSCRIPTIONS: Subscription.objects.count(),
        ImportSource.CONTRACT_LINES: ContractLine.objects.exclude(external_id="").count(),
    }


__all__ = [
    "ImportRejectedError",
    "commit_import",
    "create_import",
    "discard_import",
    "import_path",
    "runs_in_background",
    "validate_import",
]
