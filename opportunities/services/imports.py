"""CSV imports of the source snapshots: devices (RMM), subscriptions (distributor), contract lines (PSA).

Upload → check (header, then every row, with line numbers) → preview (new / changed /
gone) → commit, all or nothing. A committed import replaces that source's snapshot and
queues detection for the clients it touched.

Two engines, one behaviour:

- PostgreSQL, devices and subscriptions (``imports_pg``): the file is streamed with
  ``COPY`` (never whole in memory) and checked, mapped and compared in SQL; the preview
  prepares the next snapshot as a table of its own and the commit swaps it in.
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
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from billingone.text import clip
from clients.models import Client, Contract, ContractChange, ContractLine, Product

from ..models import Device, DeviceType, ImportSource, SourceImport, Subscription, SubscriptionStatus
from . import imports_pg
from .import_base import ImportRejectedError, Outcome, progress_key, report_progress

BACKGROUND_BYTES = 2 * 1024 * 1024  # files larger than this are checked and committed by a worker


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
    name = clip((getattr(uploaded_file, "name", "") or "upload.csv").rsplit("/", 1)[-1], 255)
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
    """Check the file and count what a commit would do; changes nothing but the import record.

    (On PostgreSQL, devices and subscriptions: it also prepares the table a commit swaps in.)
    """
    _set_status(imp, SourceImport.Status.VALIDATING)
    outcome = Outcome()
    try:
        if _swaps(imp):
            outcome = _prepare(imp)
        else:
            with transaction.atomic():
                _process(imp, outcome, commit=False)
                raise _InvalidError  # a dry run: whatever was staged goes away
    except _InvalidError:
        pass
    except ImportRejectedError as exc:
        outcome.add_error(None, str(exc))
    except DatabaseError as exc:
        return _failed(imp, exc, "checked")
    status = SourceImport.Status.INVALID if outcome.error_count else SourceImport.Status.READY
    return _finish(imp, outcome, status)


def commit_import(*, imp: SourceImport, actor=None, queue_detection=True) -> SourceImport:
    """Replace the source's snapshot with the file, all or nothing; queue detection for touched clients.

    ``queue_detection=False`` is for callers that run detection themselves (the demo seed).
    """
    if imp.status == SourceImport.Status.COMMITTED or _already_committed(imp):
        return imp
    _set_status(imp, SourceImport.Status.COMMITTING)
    if _swaps(imp):
        return _commit_swap(imp, actor, queue_detection)
    outcome = Outcome()
    try:
        with transaction.atomic():
            # SQLite serialises writers; the import itself is locked, so a double-submitted commit
            # finds it already committed.
            if SourceImport.objects.select_for_update().get(pk=imp.pk).status == SourceImport.Status.COMMITTED:
                imp.refresh_from_db()
                return imp
            _process(imp, outcome, commit=True)
            if outcome.error_count:
                raise _InvalidError
            return _committed(imp, outcome, actor, queue_detection)
    except _InvalidError:
        pass
    except ImportRejectedError as exc:
        outcome.add_error(None, str(exc))
    except DatabaseError as exc:
        return _failed(imp, exc)
    return _invalid(imp, outcome)


def _commit_swap(imp, actor, queue_detection):
    """PostgreSQL, devices and subscriptions: swap the prepared table in (preparing it first if
    there is none, or if another snapshot went live since the preview)."""
    for _attempt in range(3):
        if imports_pg.is_prepared(imp):
            outcome = Outcome(
                rows=imp.rows_total,
                new=imp.count_new,
                changed=imp.count_changed,
                gone=imp.count_gone,
                unchanged=imp.count_unchanged,
                touched=set(imp.touched_client_ids),
            )
        else:
            try:
                outcome = _prepare(imp)
            except ImportRejectedError as exc:
                outcome = Outcome()
                outcome.add_error(None, str(exc))
            if outcome.error_count:
                return _invalid(imp, outcome)
        try:
            with transaction.atomic():
                # One commit per source at a time; the import itself locked, so a double-submitted
                # commit finds it already committed.
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock(%s, %s)", [7301, ImportSource.values.index(imp.source)]
                    )
                if SourceImport.objects.select_for_update().get(pk=imp.pk).status == SourceImport.Status.COMMITTED:
                    imp.refresh_from_db()
                    return imp
                imports_pg.swap_in(imp)
                return _committed(imp, outcome, actor, queue_detection)
        except imports_pg.StaleSnapshotError:
            # Another import went live since the preview, a rule changed, or a migration changed
            # the table: prepare again (and compare with the snapshot live now).
            imports_pg.drop_prepared(imp)
            continue
        except imports_pg.ClientGoneError:
            imports_pg.drop_prepared(imp)
            continue  # preparing again reports the rows of the deleted client, with their lines
        except DatabaseError as exc:
            if "lock timeout" not in str(exc):
                return _failed(imp, exc)
            # Readers held the snapshot too long. Nothing changed and the preview still stands.
            outcome.message = (
                "Not committed yet: the snapshot is being read (detection may be running). Commit again in a minute."
            )
            return _finish(imp, outcome, SourceImport.Status.READY)
    return _failed(imp, "other imports of this source kept replacing the snapshot; commit again")


def _committed(imp, outcome, actor, queue_detection):
    imp.committed_at = timezone.now()
    imp.committed_by = actor or imp.committed_by
    _finish(imp, outcome, SourceImport.Status.COMMITTED)
    if outcome.touched and queue_detection:
        from ..tasks import detect_clients

        ids, pk = sorted(outcome.touched), imp.pk
        transaction.on_commit(lambda: detect_clients.delay(ids, import_id=pk))
    return imp


def _failed(imp, exc, step="committed"):
    # Nothing was changed (the transaction rolled back); say so instead of failing the page.
    outcome = Outcome(message=clip(f"The import could not be {step} and changed nothing: {exc}", 500))
    return _finish(imp, outcome, SourceImport.Status.FAILED)


def _invalid(imp, outcome):
    outcome.new = outcome.changed = outcome.gone = outcome.unchanged = 0
    outcome.touched = set()
    return _finish(imp, outcome, SourceImport.Status.INVALID)


def _already_committed(imp):
    if SourceImport.objects.filter(pk=imp.pk, status=SourceImport.Status.COMMITTED).exists():
        imp.refresh_from_db()
        return True
    return False


@transaction.atomic
def discard_import(*, imp: SourceImport) -> SourceImport:
    """Drop an import that was not committed (its record stays, as history)."""
    locked = SourceImport.objects.select_for_update().get(pk=imp.pk)
    if locked.status not in (SourceImport.Status.COMMITTED, SourceImport.Status.COMMITTING):
        locked.status = SourceImport.Status.DISCARDED
        locked.save(update_fields=["status"])
        if _swaps(locked):
            imports_pg.drop_prepared(locked)
    return locked


def import_path(*, source: str, path: str, actor=None, queue_detection=True) -> SourceImport:
    """Import a file from disk (the management command): keep it, check it, commit it."""
    with open(path, "rb") as fh:
        fh.size = fh.seek(0, io.SEEK_END)
        fh.seek(0)
        imp = create_import(source=source, uploaded_file=File(fh, name=path.rsplit("/", 1)[-1]), actor=actor)
    return commit_import(imp=imp, actor=actor, queue_detection=queue_detection)


def progress_of(imp: SourceImport) -> int:
    value = cache.get(progress_key(imp.pk))
    return imp.progress if value is None else int(value)


# --- Bookkeeping -----------------------------------------------------------------------------


def _set_status(imp, status):
    imp.status = status
    imp.progress = 0
    SourceImport.objects.filter(pk=imp.pk).exclude(status=SourceImport.Status.COMMITTED).update(
        status=status, progress=0
    )
    cache.set(progress_key(imp.pk), 0, 3600)


def _finish(imp, outcome, status):
    imp.status = status
    imp.progress = 100
    imp.rows_total = outcome.rows
    imp.count_new, imp.count_changed, imp.count_gone = outcome.new, outcome.changed, outcome.gone
    imp.count_unchanged = outcome.unchanged
    imp.error_count = outcome.error_count
    imp.errors = sorted(outcome.errors, key=lambda e: (e["line"] is not None, e["line"] or 0))
    imp.touched_client_ids = sorted(outcome.touched)
    imp.message = clip(outcome.message, 500)
    imp.save()
    cache.set(progress_key(imp.pk), 100, 3600)
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


def _swaps(imp) -> bool:
    """Is this import run by the PostgreSQL engine (prepare a table, swap it in)?"""
    return connection.vendor == "postgresql" and imp.source in imports_pg.MODELS


def _prepare(imp) -> Outcome:
    """PostgreSQL: prepare the import's table; when a row is bad, the full check says which."""
    spec = SPECS[imp.source]
    fh, delimiter, names = _open_checked(imp, spec)
    with fh:
        outcome = imports_pg.build_next(imp, spec, fh, delimiter, names)
    if outcome is not None:
        return outcome
    outcome = Outcome()
    fh, delimiter, names = _open_checked(imp, spec)
    with fh:
        try:
            with transaction.atomic():
                imports_pg.report(imp, spec, fh, delimiter, names, outcome)
                raise _InvalidError  # only temporary tables were written
        except _InvalidError:
            pass
    if not outcome.error_count:  # the fast path refused a row the full check accepts
        outcome.add_error(None, "The file could not be checked; nothing was imported. Please report this file.")
    return outcome


def _process(imp, outcome, *, commit):
    """The Python engine (SQLite; contract lines everywhere)."""
    spec = SPECS[imp.source]
    fh, delimiter, names = _open_checked(imp, spec)
    with fh:
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
                report_progress(imp, 0.8 * fh.tell() / total)
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
                    contract_id=cid,
                    line_id=lid,
                    action=act,
                    detail=clip(text, 500),
                    actor=imp.uploaded_by,
                    source="import",
                )
                for cid, lid, act, text in audit
            ],
            batch_size=2000,
        )


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
