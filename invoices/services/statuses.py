"""The invoice status rules of SPEC 3.3 as one set-based SQL statement.

Every status is a function of the invoice's own stored balances and dates, except
Previous balance remaining / Do not pay, which ask whether an earlier positive
invoice of the same client is still outstanding. Only rows whose status changes
are written, and each change is appended to the status history in the same
statement (PostgreSQL) or the same transaction (SQLite).
"""

import datetime as dt

from django.db import connection

from clients.dates import org_today

from ..models import ALLOCATION_ORDER, Invoice
from ..models import InvoiceStatus as S

INVOICE = "invoices_invoice"
HISTORY = "invoices_invoicestatuschange"

# "Earlier" is ALLOCATION_ORDER (issue date, sequence position, id), never the number's text.
_ORDER = [Invoice._meta.get_field(name).column for name in ALLOCATION_ORDER]
EARLIER = f"({', '.join('e.' + c for c in _ORDER)}) < ({', '.join('i.' + c for c in _ORDER)})"

# ``%(as_of)s`` is the date the statuses are evaluated at (organisation's calendar).
STATUS_CASE = f"""
CASE
  WHEN i.total <= 0 THEN
    CASE WHEN EXISTS (
      SELECT 1 FROM {INVOICE} e
       WHERE e.client_id = i.client_id AND e.total > 0 AND e.amount_paid < e.total
         AND {EARLIER}
    ) THEN '{S.PREVIOUS_BALANCE_REMAINING}' ELSE '{S.DO_NOT_PAY}' END
  WHEN i.amount_paid >= i.total THEN
    CASE WHEN i.below_threshold AND i.settled_by_id IS NOT NULL THEN '{S.NO_PAYMENT_REQUIRED}' ELSE '{S.PAID}' END
  WHEN i.below_threshold THEN '{S.NO_PAYMENT_REQUIRED}'
  WHEN i.due_on < %(as_of)s THEN '{S.OVERDUE}'
  WHEN i.amount_paid > 0 THEN '{S.PARTIALLY_PAID}'
  ELSE '{S.UNPAID}'
END"""


def _scope(client_id=None, client_range=None, client_ids=None):
    if client_id is not None:
        return "i.client_id = %(client_id)s", {"client_id": client_id}
    if client_ids is not None:
        ids = [int(pk) for pk in client_ids] or [0]
        return f"i.client_id IN ({', '.join(map(str, ids))})", {}
    if client_range is not None:
        return "i.client_id BETWEEN %(lo)s AND %(hi)s", {"lo": client_range[0], "hi": client_range[1]}
    return "TRUE", {}


def apply_statuses(*, as_of: dt.date, source: str, client_id=None, client_range=None, client_ids=None) -> dict:
    """Set every invoice in scope to its status as of ``as_of``; returns {new status: count changed}.

    Must run inside a transaction (the caller's).
    """
    where, params = _scope(client_id, client_range, client_ids)
    params.update({"as_of": as_of, "source": source})
    if connection.vendor == "postgresql":
        return _apply_postgresql(where, params, jit=client_id is not None)
    return _apply_generic(where, params)


def _apply_postgresql(where, params, jit=True) -> dict:
    # One pass: in an UPDATE every right-hand side sees the old row, so
    # ``previous_status = status`` keeps the old status for RETURNING, and the CASE is
    # evaluated on the current row version (a payment committed meanwhile is seen).
    sql = f"""
    WITH updated AS (
        UPDATE {INVOICE} i SET previous_status = i.status, status = {STATUS_CASE}
         WHERE {where} AND i.status <> {STATUS_CASE}
        RETURNING i.id, i.previous_status AS old, i.status AS new
    ), logged AS (
        INSERT INTO {HISTORY} (invoice_id, from_status, to_status, as_of, source, created_at)
        SELECT id, old, new, %(as_of)s, %(source)s, now() FROM updated
        RETURNING to_status
    )
    SELECT to_status, count(*) FROM logged GROUP BY to_status
    """
    with connection.cursor() as cursor:
        if not jit:
            # The EXISTS sub-plan inflates the estimated cost, so PostgreSQL would spend
            # about a second JIT-compiling a statement that runs in well under that.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def _apply_generic(where, params) -> dict:
    # SQLite: the database is locked for the whole write transaction, so reading the
    # changed rows first and writing them after cannot race. Only changed rows reach Python.
    where = where.replace("TRUE", "1 = 1")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, old, new FROM (SELECT i.id, i.status AS old, {STATUS_CASE} AS new"
            f" FROM {INVOICE} i WHERE {where}) c WHERE old <> new",
            params,
        )
        changed = cursor.fetchall()
        if not changed:
            return {}
        from django.utils import timezone

        now = timezone.now()
        cursor.executemany(
            f"INSERT INTO {HISTORY} (invoice_id, from_status, to_status, as_of, source, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [(pk, old, new, params["as_of"], params["source"], now) for pk, old, new in changed],
        )
        by_status: dict[str, list[int]] = {}
        for pk, _old, new in changed:
            by_status.setdefault(new, []).append(pk)
        for new, ids in by_status.items():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                cursor.execute(
                    f"UPDATE {INVOICE} SET previous_status = status, status = %s"
                    f" WHERE id IN ({', '.join(['%s'] * len(chunk))})",
                    [new, *chunk],
                )
    return {new: len(ids) for new, ids in by_status.items()}


def refresh_statuses(client, *, source, as_of=None) -> dict:
    return apply_statuses(as_of=as_of or org_today(), source=source, client_id=client.pk)
