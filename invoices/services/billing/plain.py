"""The plain month, set-based (PostgreSQL): clients whose earlier months are settled bill only their
lines in force this month, written by one ``INSERT … SELECT`` instead of the rule in Python.

A client is *settled* for a run month when its latest billing-run invoice bills the month before (or
this month already) and nothing that decides its bill changed since that invoice was issued: no contract line written, no
contract change recorded (every contract writer records one), no billing profile saved, no other
invoice issued. Issuing recomputed that invoice under the client's row lock, so after it, what was
billed equals what is expected for every month through the month before (within the horizon); this
month the rule can only ask for the plain lines of the month, which is what the SQL below writes
(and a client already billed for this month is owed nothing more).
Changes made within ``BILLING_SETTLED_MARGIN_SECONDS`` before that issue count as changes (a
transaction that wrote a line while the issue read its contract), so a doubt is always settled by
the rule itself. Everything else -- and every database but PostgreSQL -- goes through the rule in
Python (``compute``); a test proves both give the same drafts and invoices.
"""

import datetime as dt

from django.conf import settings
from django.db import connection

from billingone import sql
from clients.models import BillingTiming, Contract, ContractChange, ContractLine, Product

from ...models import BillingProfile, DraftInvoice, DraftLine, Invoice, InvoiceLine
from .compute import Calendar
from .periods import add_months, month_end

# The columns a billed line stores (``BilledLine``'s, shared by draft and invoice lines).
LINE_COLUMNS = tuple(f.attname for f in DraftLine._meta.concrete_fields if f.attname not in ("id", "draft_id"))
# What makes two lines the same: a draft is issued only when its lines are exactly the fresh ones.
LINE_KEY = ("description", "quantity", "unit_price", "amount", "contract_line_id", "period", "days", "adjustment")
TEMP = "billing_plain_lines"


def available() -> bool:
    return connection.vendor == "postgresql"


def refresh_statistics() -> None:
    """Fresh planner statistics for the draft tables after a build wrote many rows (autovacuum comes
    later), so the issue's comparisons use their indexes."""
    if available():
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {DraftInvoice._meta.db_table}, {DraftLine._meta.db_table}")


def settled_clients(client_ids, calendar: Calendar) -> dict[int, dt.date]:
    """The clients among ``client_ids`` whose months before the run's are settled (see above), each
    with the month its latest run invoice bills: the month before (bill the plain month) or the
    run's own month (nothing more to bill)."""
    if not available() or not client_ids:
        return {}
    statement = f"""
        WITH billed AS (
            SELECT i.client_id, i.period_start, i.created_at,
                   max(i.period_start) OVER (PARTITION BY i.client_id) AS latest_month
              FROM {Invoice._meta.db_table} i
             WHERE i.client_id = ANY(%(ids)s) AND i.billing_run_id IS NOT NULL
        ), latest AS (  -- the month the latest run invoice bills, and when it was last issued for
            SELECT b.client_id, b.latest_month AS month, max(b.created_at) AS at
              FROM billed b WHERE b.period_start = b.latest_month
             GROUP BY b.client_id, b.latest_month
        )
        SELECT l.client_id, l.month FROM latest l
         WHERE l.month IN (%(previous)s, %(run)s)
           AND NOT EXISTS (SELECT 1 FROM {Invoice._meta.db_table} o
                            WHERE o.client_id = l.client_id AND o.created_at > l.at)
           AND NOT EXISTS (SELECT 1 FROM {BillingProfile._meta.db_table} p
                            WHERE p.client_id = l.client_id
                              AND (p.updated_at > l.at - %(margin)s OR p.billing_start > %(previous)s))
           AND NOT EXISTS (SELECT 1 FROM {Contract._meta.db_table} c
                             JOIN {ContractLine._meta.db_table} k ON k.contract_id = c.id
                            WHERE c.client_id = l.client_id AND k.updated_at > l.at - %(margin)s)
           AND NOT EXISTS (SELECT 1 FROM {Contract._meta.db_table} c
                             JOIN {ContractChange._meta.db_table} h ON h.contract_id = c.id
                            WHERE c.client_id = l.client_id AND h.created_at > l.at - %(margin)s)
    """
    params = {
        "ids": list(client_ids),
        "previous": add_months(calendar.run_month, -1),
        "run": calendar.run_month,
        "margin": dt.timedelta(seconds=settings.BILLING_SETTLED_MARGIN_SECONDS),
    }
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return dict(cursor.fetchall())


def _plain_lines(cursor, client_ids, calendar: Calendar) -> None:
    """A temporary table of every plain line of these clients' bills: each segment in force in its
    contract's billing month, at quantity × price × days ÷ days in the month, rounded half-up to the
    cent once (integer arithmetic, as ``rule.expected_amount``), worded as ``rule`` words it."""
    cursor.execute(f"DROP TABLE IF EXISTS {TEMP}")
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {TEMP} ON COMMIT DROP AS
        WITH segments AS (
            SELECT c.client_id, k.id AS line_id, p.name AS product, k.quantity, k.unit_price,
                   greatest(k.start_date, c.start_date) AS first_day, least(k.end_date, c.end_date) AS last_day,
                   CASE WHEN c.billing_timing = %(advance)s THEN %(run)s::date ELSE %(previous)s::date END AS month
              FROM {ContractLine._meta.db_table} k
              JOIN {Contract._meta.db_table} c ON c.id = k.contract_id
              JOIN {Product._meta.db_table} p ON p.id = k.product_id
             WHERE c.client_id = ANY(%(ids)s)
        ), spans AS (
            SELECT s.*, greatest(s.first_day, s.month) AS service_start,
                   least(coalesce(s.last_day, (s.month + interval '1 month - 1 day')::date),
                         (s.month + interval '1 month - 1 day')::date) AS service_end,
                   extract(day FROM s.month + interval '1 month - 1 day')::int AS dim
              FROM segments s
             WHERE (s.last_day IS NULL OR s.last_day >= s.first_day)
               AND s.first_day <= (s.month + interval '1 month - 1 day')::date
               AND (s.last_day IS NULL OR s.last_day >= s.month)
        ), figures AS (
            SELECT sp.*, (sp.service_end - sp.service_start + 1) AS days,
                   div(2 * sp.quantity::numeric * (sp.unit_price * 100) * (sp.service_end - sp.service_start + 1)
                       + sp.dim, 2 * sp.dim) / 100.0 AS cents
              FROM spans sp
        ), worded AS (
            SELECT f.*, f.product || ' — ' || to_char(f.month, 'Mon YYYY') || ', ' || f.quantity || ' × '
                   || f.unit_price
                   || CASE WHEN f.days = f.dim THEN ''
                           WHEN f.days = 1 THEN ', ' || extract(day FROM f.service_start)::int || ' '
                                || to_char(f.month, 'Mon YYYY') || ': 1/' || f.dim
                           ELSE ', ' || extract(day FROM f.service_start)::int || '–'
                                || extract(day FROM f.service_end)::int || ' ' || to_char(f.month, 'Mon YYYY')
                                || ': ' || f.days || '/' || f.dim END AS text
              FROM figures f
        )
        SELECT w.client_id,
               CASE WHEN length(w.text) > 300 THEN left(w.text, 299) || '…' ELSE w.text END AS description,
               w.quantity::numeric(12, 2) AS quantity, w.unit_price, round(w.cents, 2)::numeric(14, 2) AS amount,
               w.line_id AS contract_line_id, w.month AS period, w.service_start, w.service_end, w.days,
               w.dim AS days_in_month, false AS adjustment
          FROM worded w
        """,
        {
            "ids": list(client_ids),
            "run": calendar.run_month,
            "previous": add_months(calendar.run_month, -1),
            "advance": BillingTiming.ADVANCE,
        },
    )


def write_plain_drafts(run, client_ids, calendar: Calendar) -> None:
    """Drafts for settled clients: their plain lines, in the order ``runs.ordered`` gives."""
    if not client_ids:
        return
    columns = ", ".join(LINE_COLUMNS)
    with connection.cursor() as cursor:
        _plain_lines(cursor, client_ids, calendar)
        cursor.execute(
            f"""
            INSERT INTO {DraftInvoice._meta.db_table}
                   (run_id, client_id, period_start, period_end, total, stale, stale_reason, no_email, created_at)
            SELECT %(run)s, t.client_id, %(start)s, %(end)s, sum(t.amount), false, '',
                   NOT EXISTS (SELECT 1 FROM {BillingProfile._meta.db_table} b
                                WHERE b.client_id = t.client_id AND b.billing_email <> ''),
                   now()
              FROM {TEMP} t GROUP BY t.client_id ORDER BY t.client_id
            """,
            {"run": run.pk, "start": run.period_start, "end": month_end(run.period_start)},
        )
        cursor.execute(
            f"""
            INSERT INTO {DraftLine._meta.db_table} (draft_id, {columns})
            SELECT d.id, {", ".join("t." + name for name in LINE_COLUMNS)}
              FROM {TEMP} t JOIN {DraftInvoice._meta.db_table} d ON d.run_id = %(run)s AND d.client_id = t.client_id
             ORDER BY t.client_id, t.period, t.description COLLATE "C", t.contract_line_id
            """,
            {"run": run.pk},
        )
        cursor.execute(f"DROP TABLE {TEMP}")


def differing_drafts(run, client_ids, calendar: Calendar) -> set[int]:
    """Among settled clients, those whose draft in the run no longer holds exactly their plain lines."""
    if not client_ids:
        return set()
    held = ", ".join("l." + name for name in LINE_KEY)
    fresh = ", ".join("t." + name for name in LINE_KEY)
    drafts = f"""
        SELECT d.client_id, {held} FROM unnest(%(ids)s::bigint[]) AS chosen (client_id)
          JOIN {DraftInvoice._meta.db_table} d ON d.run_id = %(run)s AND d.client_id = chosen.client_id
          JOIN {DraftLine._meta.db_table} l ON l.draft_id = d.id
         WHERE d.client_id BETWEEN %(first)s AND %(last)s
    """
    with connection.cursor() as cursor:
        _plain_lines(cursor, client_ids, calendar)
        cursor.execute(
            f"""
            SELECT DISTINCT client_id FROM (
                (SELECT t.client_id, {fresh} FROM {TEMP} t EXCEPT ALL {drafts})
                UNION ALL
                ({drafts} EXCEPT ALL SELECT t.client_id, {fresh} FROM {TEMP} t)
            ) differing
            """,
            {"run": run.pk, "ids": list(client_ids), "first": min(client_ids), "last": max(client_ids)},
        )
        found = {row[0] for row in cursor.fetchall()}
        cursor.execute(f"DROP TABLE {TEMP}")
    return found


def copy_draft_lines(draft_ids) -> None:
    """The issued invoices' lines: each draft's lines, in their order, on the invoice it became."""
    if not draft_ids:
        return
    columns = ", ".join(LINE_COLUMNS)
    ids = list(draft_ids)
    for start in range(0, len(ids), 5000):
        chosen, params = sql.among("d.id", ids[start : start + 5000])
        sql.run(
            f"""
            INSERT INTO {InvoiceLine._meta.db_table} (invoice_id, {columns})
            SELECT d.invoice_id, {", ".join("l." + name for name in LINE_COLUMNS)}
              FROM {DraftLine._meta.db_table} l JOIN {DraftInvoice._meta.db_table} d ON d.id = l.draft_id
             WHERE {chosen} ORDER BY l.id
            """,
            params,
        )


def link_drafts(pairs) -> None:
    """Each issued draft points at its invoice: ``pairs`` of (draft id, invoice id)."""
    pairs = list(pairs)
    table = DraftInvoice._meta.db_table
    if available():
        sql.run(
            f"UPDATE {table} SET invoice_id = v.invoice_id FROM unnest(%s::bigint[], %s::bigint[]) AS v (id, invoice_id)"
            f" WHERE {table}.id = v.id",
            [[draft for draft, _ in pairs], [invoice for _, invoice in pairs]],
        )
        return
    for start in range(0, len(pairs), 2000):
        part = pairs[start : start + 2000]
        values = ", ".join(["(%s, %s)"] * len(part))
        sql.run(
            f"UPDATE {table} SET invoice_id = v.column2 FROM (VALUES {values}) AS v WHERE {table}.id = v.column1",
            [value for pair in part for value in pair],
        )
