"""The Python engine: the file streamed through ``csv``, checked row by row, written in bulk (SQLite,
and contract lines everywhere: they are few, and merged from a date through the dated services,
``contract_lines``)."""

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from clients.models import Contract, Product

from ...models import Device, DeviceType, ImportSource, Subscription, SubscriptionStatus
from .contract_lines import merge_contract_lines
from .files import _client_lookup
from .outcome import ImportRejectedError, report_progress
from .specs import DEVICE_TYPE, LAST_SEEN, PY_FIELDS, QUANTITY, SUBSCRIPTION_STATUS


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
        quantity = QUANTITY.parse(get("quantity"))
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
            raise ValueError(DEVICE_TYPE.message(get("device_type")))
        last_seen = None
        if get("last_seen"):
            try:
                last_seen = _parse_ts(get("last_seen"))
            except ValueError:
                raise ValueError(LAST_SEEN.message(get("last_seen"))) from None
            LAST_SEEN.check_window(last_seen, get("last_seen"))
        return key, client_id, (client_id, get("hostname"), device_type, get("os"), last_seen)
    quantity = QUANTITY.parse(get("quantity"))
    status = get("status").lower() or SubscriptionStatus.ACTIVE
    if status not in SubscriptionStatus.values:
        raise ValueError(SUBSCRIPTION_STATUS.message(get("status")))
    return key, client_id, (client_id, get("vendor_sku"), get("product_name"), quantity, status, get("term"))


def _existing(source):
    """key -> (pk, client_id, values) of the current snapshot."""
    if source == ImportSource.DEVICES:
        qs = Device.objects.values_list("device_id", "pk", "client_id", *PY_FIELDS[source])
    else:
        qs = Subscription.objects.values_list("subscription_id", "pk", "client_id", *PY_FIELDS[source])
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
    if source == ImportSource.CONTRACT_LINES:
        merge_contract_lines(imp, parsed, seen, outcome, commit=commit)
        return
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
    """Devices and subscriptions: the snapshot rows replaced in bulk (no history to keep)."""
    source = imp.source
    fields = PY_FIELDS[source]
    model = Device if source == ImportSource.DEVICES else Subscription
    key_field = "device_id" if source == ImportSource.DEVICES else "subscription_id"
    gone_ids = [pk for pk, _client in gone]
    for start in range(0, len(gone_ids), 5000):
        model.objects.filter(pk__in=gone_ids[start : start + 5000]).delete()
    objs = [model(pk=pk, **dict(zip(fields, values, strict=True))) for pk, values in changed]
    model.objects.bulk_update(objs, list(fields), batch_size=1000)
    model.objects.bulk_create(
        [model(**{key_field: key}, **dict(zip(fields, values, strict=True))) for key, values in new],
        batch_size=2000,
    )
