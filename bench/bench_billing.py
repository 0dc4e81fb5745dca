"""Benchmark: billing runs (PostgreSQL).

Builds 100,000 clients with 250,000 contract lines and 12 months of issued billing-run history
(Jan–Dec 2026: 1,200,000 invoices, 3,000,000 lines keyed to their contract line and month) with
generate_series -- no ORM --, then changes 2% of the lines from 15 Jan 2027 and 0.5% from
10 Nov 2026 (backdated into billed months), and measures the January 2027 run:

* building the drafts (target <= 60 s, and <= 3x a hand-written INSERT ... SELECT that writes the
  plain current-month lines of the same clients, measured in the same run);
* a rebuild with nothing changed (target <= 10 s);
* issuing every draft (target <= 60 s);
* a second run of the issued month creates nothing;
* peak memory of this process (max RSS, target <= 300 MB).

Run: ``make bench`` or ``BENCH_DATABASE_URL=postgres://... python bench/bench_billing.py``.
BENCH_CLIENTS (default 100000) scales the data set (2.5 lines per client); BENCH_REUSE=1 keeps the
data an earlier run generated (same BENCH_CLIENTS) and only removes what that run added.
"""

import datetime as dt
import os
import resource
import sys
from pathlib import Path

from _common import ensure_database, sql, timed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
URL = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
if not URL.startswith("postgres"):
    sys.exit("bench_billing needs PostgreSQL: set BENCH_DATABASE_URL (or DATABASE_URL) to a postgres:// URL")
os.environ["DATABASE_URL"] = URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billingone.settings")
os.environ.setdefault("CONN_MAX_AGE", "0")
os.environ["BILLING_GO_LIVE"] = "2026-01-01"
os.environ["EMAIL_URL"] = "dummymail://"

N_CLIENTS = int(os.environ.get("BENCH_CLIENTS", "100000"))
RUN_MONTH = dt.date(2027, 1, 1)
HISTORY = [dt.date(2026, m, 1) for m in range(1, 13)]


def generate():
    n = N_CLIENTS
    sql(
        "TRUNCATE invoices_draftline, invoices_draftinvoice, invoices_billingrunchunk, invoices_billingrun,"
        " invoices_invoicesequence, invoices_invoicestatuschange, invoices_allocation, invoices_payment,"
        " invoices_invoiceline, invoices_invoice, invoices_billingprofile, invoices_collectionstep,"
        " invoices_customerclass, clients_contractchange, clients_contractline, clients_contract,"
        " clients_product, clients_client RESTART IDENTITY CASCADE"
    )
    sql(
        "INSERT INTO clients_client (id, name, psa_id, rmm_id, distributor_id, service_status, created_at, updated_at)"
        " SELECT g, 'Bench client ' || g, '', '', '', 'active', now(), now() FROM generate_series(1, %s) g",
        [n],
    )
    sql(
        "INSERT INTO invoices_customerclass (id, name, payment_terms_days, collection_threshold, is_default)"
        " VALUES (1, 'Bench', 30, 0, true)"
    )
    sql(
        "INSERT INTO invoices_billingprofile (client_id, customer_class_id, billing_email, updated_at)"
        " SELECT g, 1, 'ap' || g || '@client.example', '2025-11-20' FROM generate_series(1, %s) g",
        [n],
    )
    sql(
        "INSERT INTO clients_product (id, sku, name, category, unit_price, retired)"
        " SELECT g, 'SKU-' || g, 'Managed service ' || g, 'service', 10 * g + 0.50, false FROM generate_series(1, 5) g"
    )
    sql(
        "INSERT INTO clients_contract (id, client_id, number, name, start_date, active, billing_timing)"
        " SELECT g, g, 'C-' || g, 'Managed services', '2025-12-01', true, 'advance' FROM generate_series(1, %s) g",
        [n],
    )
    # 2.5 lines per client: two for every client, a third for every other one.
    sql(
        """
        INSERT INTO clients_contractline (contract_id, product_id, quantity, unit_price, external_id,
                                          start_date, updated_at)
        SELECT c, 1 + (c + k) %% 5, 1 + (c * 7 + k) %% 40, 10 * (1 + (c + k) %% 5) + 0.50, '', '2025-12-01',
               '2025-11-20'
          FROM generate_series(1, %s) c, generate_series(0, 2) k
         WHERE k < 2 OR c %% 2 = 0
        """,
        [n],
    )
    _history()
    for table in ["clients_client", "clients_product", "clients_contract", "invoices_customerclass"]:
        sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    _changes()
    sql("VACUUM ANALYZE")


def _history():
    """One issued run a month through 2026, one invoice per client per month, paid in full."""
    for index, month in enumerate(HISTORY, start=1):
        end = (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        sql(
            "INSERT INTO invoices_billingrun (id, period_start, scope, status, created_at, issued_on, chunks_total,"
            " chunks_done, drafts_count, drafts_total, stale_count, issued_count, issued_total, summary, error)"
            " VALUES (%s, %s, 'all', 'issued', %s, %s, 0, 0, 0, 0, 0, 0, 0, '{}', '')",
            [index, month, month, month],
        )
        base = (index - 1) * N_CLIENTS
        sql(
            """
            INSERT INTO invoices_invoice (id, number, client_id, issued_on, due_on, total, carried_in, amount_due,
                                          below_threshold, amount_paid, credit_applied, status, created_at,
                                          sequence, billing_run_id, period_start, period_end, previous_status)
            SELECT %(base)s + c.id, 'INV-2026-' || lpad((%(base)s + c.id)::text, 7, '0'), c.id, %(month)s,
                   %(month)s::date + 30, t.total, 0, t.total, false, t.total, 0, 'paid', %(month)s::date + interval '6 hours',
                   %(base)s + c.id, %(run)s, %(month)s, %(end)s, ''
              FROM clients_client c
              JOIN (SELECT k.contract_id AS client_id, sum(k.quantity * k.unit_price) AS total
                      FROM clients_contractline k GROUP BY k.contract_id) t ON t.client_id = c.id
            """,
            {"base": base, "month": month, "end": end, "run": index},
        )
        sql(
            """
            INSERT INTO invoices_invoiceline (invoice_id, description, quantity, unit_price, amount, adjustment,
                                              contract_line_id, period, service_start, service_end, days,
                                              days_in_month)
            SELECT %(base)s + k.contract_id, p.name || ' — ' || to_char(%(month)s::date, 'Mon YYYY'),
                   k.quantity, k.unit_price, k.quantity * k.unit_price, false, k.id, %(month)s, %(month)s, %(end)s,
                   %(days)s, %(days)s
              FROM clients_contractline k JOIN clients_product p ON p.id = k.product_id
            """,
            {"base": base, "month": month, "end": end, "days": end.day},
        )
    last = len(HISTORY) * N_CLIENTS
    sql(
        "INSERT INTO invoices_invoicesequence (key, prefix, width, next_value) VALUES ('invoice', 'INV-{year}-', 7, %s)",
        [last + 1],
    )
    for table in ["invoices_invoice", "invoices_billingrun"]:
        sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def _changes():
    """2% of lines raised by one from 15 Jan 2027, 0.5% from 10 Nov 2026 (both as the service does:
    the old segment ends the day before, a new one replaces it)."""
    for modulo, first in [(50, dt.date(2027, 1, 15)), (200, dt.date(2026, 11, 10))]:
        sql(
            """
            WITH chosen AS (
                UPDATE clients_contractline SET end_date = %(last)s, updated_at = now()
                 WHERE id %% %(mod)s = 7 AND replaces_id IS NULL AND end_date IS NULL
                       AND NOT EXISTS (SELECT 1 FROM clients_contractline n WHERE n.replaces_id = clients_contractline.id)
             RETURNING id, contract_id, product_id, quantity, unit_price)
            INSERT INTO clients_contractline (contract_id, product_id, quantity, unit_price, external_id,
                                              start_date, replaces_id, updated_at)
            SELECT contract_id, product_id, quantity + 1, unit_price, '', %(first)s, id, now() FROM chosen
            """,
            {"mod": modulo, "first": first, "last": first - dt.timedelta(days=1)},
        )


def reset():
    """BENCH_REUSE=1: back to the generated data (history through December, the changes made) by
    removing what an earlier run of this benchmark added, instead of generating it all again."""
    later = f"(SELECT id FROM invoices_invoice WHERE billing_run_id > {len(HISTORY)})"
    for table in ["invoices_invoicemessage", "invoices_invoicedocument", "invoices_invoicestatuschange"]:
        sql(f"DELETE FROM {table} WHERE invoice_id IN {later}")
    sql(f"DELETE FROM invoices_allocation WHERE invoice_id IN {later}")
    sql(f"DELETE FROM invoices_invoiceline WHERE invoice_id IN {later}")
    sql("DELETE FROM invoices_draftline")
    sql("DELETE FROM invoices_draftinvoice")
    sql("DELETE FROM invoices_billingrunchunk")
    sql(f"DELETE FROM invoices_invoice WHERE billing_run_id > {len(HISTORY)}")
    sql(f"DELETE FROM invoices_billingrun WHERE id > {len(HISTORY)}")
    sql("UPDATE invoices_invoicesequence SET next_value = %s", [len(HISTORY) * N_CLIENTS + 1])
    sql("VACUUM ANALYZE")


def _reusable() -> bool:
    if os.environ.get("BENCH_REUSE") != "1":
        return False
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM clients_client")
        return cursor.fetchone()[0] == N_CLIENTS


def floor_insert():
    """The floor: one hand-written INSERT ... SELECT of the plain current-month lines, same clients."""
    sql("DROP TABLE IF EXISTS bench_floor_lines")
    sql("CREATE TABLE bench_floor_lines (LIKE invoices_draftline INCLUDING DEFAULTS)")
    sql("ALTER TABLE bench_floor_lines ALTER COLUMN id DROP NOT NULL, ALTER COLUMN draft_id DROP NOT NULL")
    return sql(
        """
        INSERT INTO bench_floor_lines (description, quantity, unit_price, amount, adjustment, contract_line_id,
                                       period, service_start, service_end, days, days_in_month)
        SELECT p.name || ' — Jan 2027', k.quantity, k.unit_price, k.quantity * k.unit_price, false, k.id,
               '2027-01-01', greatest(k.start_date, '2027-01-01'), least(coalesce(k.end_date, '2027-01-31'),
               '2027-01-31'), 31, 31
          FROM clients_contractline k
          JOIN clients_product p ON p.id = k.product_id
          JOIN clients_contract c ON c.id = k.contract_id
         WHERE c.active AND k.start_date <= '2027-01-31' AND (k.end_date IS NULL OR k.end_date >= '2027-01-01')
        """
    )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ensure_database(URL)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from invoices import services
    from invoices.models import Invoice

    print(f"bench_billing: {N_CLIENTS:,} clients", flush=True)
    timed("reset (BENCH_REUSE=1)", reset) if _reusable() else timed("generate", generate)
    build, run = timed("build drafts", lambda: services.start_billing_run(period_start=RUN_MONTH))
    floor, _ = timed("floor INSERT ... SELECT", floor_insert)
    rebuild, run = timed("rebuild, nothing changed", lambda: services.rebuild_billing_run(run))
    issue, run = timed("issue", lambda: services.issue_billing_run(run, issued_on=RUN_MONTH))
    again = services.start_billing_run(period_start=RUN_MONTH)
    issued = Invoice.objects.filter(billing_run=run).count()
    print()
    print(f"Build drafts ({run.drafts_count:,} drafts): {build:.1f} s (target <= 60 s)")
    print(f"Build / floor INSERT ... SELECT ({floor:.2f} s): {build / max(floor, 0.001):.1f}x (target <= 3x)")
    print(f"Rebuild with nothing changed: {rebuild:.1f} s (target <= 10 s)")
    print(f"Issue {issued:,} invoices: {issue:.1f} s (target <= 60 s)")
    print(f"Second run of the issued month: {again.drafts_count} draft(s) (target 0)")
    print(f"Peak memory: {peak_mb():.0f} MB (target <= 300 MB)")


if __name__ == "__main__":
    main()
