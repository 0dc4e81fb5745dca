"""Benchmark: nightly invoice status recalculation and payment posting (PostgreSQL).

Builds 100,000 clients, 1,000,000 invoices and 800,000 payments (with their
allocations) with generate_series -- no ORM -- then measures:

* nightly recalculation when ~1% of statuses change (target <= 5 s) and when all
  change (target <= 30 s), against a single hand-written UPDATE with the same CASE
  (the floor; target: ours / floor <= 3x);
* peak memory of this process (max RSS, target <= 300 MB);
* payment posting throughput with 4 concurrent posters (target >= 300 payments/s),
  and that every allocation is exact afterwards;
* the invoice list's and the payment form's page weight (target <= 100 KB) and the client
  picker's answer (target <= 150 ms) at 100,000 clients.

Run: ``make bench`` or ``BENCH_DATABASE_URL=postgres://... python bench/bench_invoices.py``.
BENCH_CLIENTS (default 100000) scales the data set; each client has 10 invoices.
"""

import datetime as dt
import multiprocessing
import os
import resource
import sys
import time
from pathlib import Path

from _common import ensure_database, sql, timed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
URL = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
if not URL.startswith("postgres"):
    sys.exit("bench_invoices needs PostgreSQL: set BENCH_DATABASE_URL (or DATABASE_URL) to a postgres:// URL")
os.environ["DATABASE_URL"] = URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billingone.settings")
os.environ.setdefault("CONN_MAX_AGE", "0")

N_CLIENTS = int(os.environ.get("BENCH_CLIENTS", "100000"))
PER_CLIENT = 10  # invoices; 8 paid (one payment each), 2 open
POSTERS = 4
PAYMENTS_PER_POSTER = int(os.environ.get("BENCH_PAYMENTS_PER_POSTER", "500"))
BASE = dt.date(2025, 1, 1)
AS_OF_0 = BASE + dt.timedelta(days=290)  # invoice 8 of every client overdue, invoice 9 not yet due
AS_OF_1 = BASE + dt.timedelta(days=302)  # invoice 9 overdue for clients with id % 20 in (0, 1): ~1%


def setup_django():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def generate():
    from django.db import connection

    n = N_CLIENTS
    sql(
        "TRUNCATE invoices_collectionaction, invoices_collectionepisode, invoices_invoicestatuschange,"
        " invoices_allocation, invoices_payment, invoices_invoiceline, invoices_invoice,"
        " invoices_billingprofile, invoices_collectionstep, invoices_customerclass,"
        " clients_servicestatuschange, clients_contractchange, clients_contractline, clients_contract,"
        " clients_client RESTART IDENTITY CASCADE"
    )
    sql(
        "INSERT INTO clients_client (id, name, psa_id, rmm_id, distributor_id, service_status, created_at, updated_at)"
        " SELECT g, 'Bench client ' || g, '', '', '', 'active', now(), now() FROM generate_series(1, %s) g",
        [n],
    )
    sql(
        "INSERT INTO invoices_customerclass (id, name, payment_terms_days, collection_threshold, is_default)"
        " VALUES (1, 'Bench', 30, 25, true)"
    )
    sql(
        "INSERT INTO invoices_billingprofile (client_id, customer_class_id, billing_email, updated_at)"
        " SELECT g, 1, '', now() FROM generate_series(1, %s) g",
        [n],
    )
    # Invoice id = (client - 1) * 10 + k + 1; k = 0..9, one a month, issue day offset by client % 20.
    # Invoice 9 is a credit (-50.00) for every 100th client and below the threshold (20.00) for client % 50 = 1.
    sql(
        f"""
        INSERT INTO invoices_invoice (id, number, client_id, issued_on, due_on, total, carried_in, amount_due,
                                      below_threshold, amount_paid, credit_applied, status, created_at)
        SELECT id, 'B' || lpad(id::text, 9, '0'), c, issued, issued + 30, total, 0, total,
               (k = 9 AND c %% 50 = 1), CASE WHEN k < 8 THEN total ELSE 0 END, 0, 'unpaid', now()
          FROM (
            SELECT (c - 1) * {PER_CLIENT} + k + 1 AS id, c, k,
                   %s::date + k * 30 + c %% 20 AS issued,
                   CASE WHEN k = 9 AND c %% 100 = 0 THEN -50.00
                        WHEN k = 9 AND c %% 50 = 1 THEN 20.00
                        ELSE 50 + ((c * 7 + k * 13) %% 950) + 0.25 END AS total
              FROM generate_series(1, %s) c, generate_series(0, {PER_CLIENT - 1}) k
          ) s
        """,
        [BASE, n],
    )
    # One payment per paid invoice (k < 8), allocated in full to it.
    sql(
        """
        INSERT INTO invoices_payment (id, client_id, amount, received_on, method, reference, unallocated, created_at)
        SELECT i.id, i.client_id, i.total, i.issued_on + 20, 'bank_transfer', 'P' || i.id, 0, now()
          FROM invoices_invoice i WHERE i.amount_paid > 0
        """
    )
    sql(
        "INSERT INTO invoices_allocation (invoice_id, payment_id, amount, created_at)"
        " SELECT id, id, amount, now() FROM invoices_payment"
    )
    for table in ["clients_client", "invoices_invoice", "invoices_payment", "invoices_customerclass"]:
        sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    floor_update(AS_OF_0)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def floor_update(as_of):
    """The floor: one hand-written UPDATE with the same status CASE, no history, no chunks."""
    from invoices.services.statuses import STATUS_CASE

    sql("SET jit = off")  # as for ours: JIT only adds compile time to this statement
    return sql(
        f"UPDATE invoices_invoice i SET status = {STATUS_CASE} WHERE i.status <> {STATUS_CASE}",
        {"as_of": AS_OF_0 if as_of is None else as_of},
    )


def reset(status_sql, as_of=None):
    from django.db import connection

    sql("TRUNCATE invoices_invoicestatuschange")
    if status_sql:
        sql(status_sql)
    else:
        floor_update(as_of)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE invoices_invoice")


def ours(as_of):
    from invoices import services

    return services.recalculate_statuses(as_of=as_of, chunk_size=10_000)


# --- payment posting ------------------------------------------------------------------------


def poster(worker, clients, queue):
    from decimal import Decimal

    from django.db import connections

    connections.close_all()
    from clients.models import Client
    from invoices import services

    start = time.perf_counter()
    for n, client_id in enumerate(clients):
        services.record_payment(
            Client(pk=client_id),
            amount=Decimal("123.45"),
            received_on=AS_OF_1,
            reference=f"BENCH-{worker}-{n}",
        )
    queue.put(time.perf_counter() - start)
    connections.close_all()


def post_payments():
    from django.db import connections

    ids = list(range(1, N_CLIENTS + 1, max(1, N_CLIENTS // (POSTERS * PAYMENTS_PER_POSTER))))
    # Each poster pays its own clients, and every 10th payment goes to a client all four share.
    shares = []
    for w in range(POSTERS):
        mine = ids[w::POSTERS][:PAYMENTS_PER_POSTER]
        shares.append([7 if i % 10 == 0 else c for i, c in enumerate(mine)])
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=poster, args=(w, shares[w], queue)) for w in range(POSTERS)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    wall = time.perf_counter() - start
    failed = [p.exitcode for p in procs if p.exitcode]
    if failed:
        raise SystemExit(f"a poster failed: exit codes {failed}")
    total = sum(len(s) for s in shares)
    return total, wall, {c for s in shares for c in s}


def allocations_exact(client_ids) -> tuple[bool, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT
              (SELECT count(*) FROM invoices_payment p
                WHERE p.client_id = ANY(%(ids)s)
                  AND p.amount <> p.unallocated + COALESCE((SELECT sum(a.amount) FROM invoices_allocation a
                                                            WHERE a.payment_id = p.id), 0)),
              (SELECT count(*) FROM invoices_invoice i
                WHERE i.client_id = ANY(%(ids)s)
                  AND i.amount_paid <> COALESCE((SELECT sum(a.amount) FROM invoices_allocation a
                                                 WHERE a.invoice_id = i.id), 0)),
              (SELECT count(*) FROM invoices_invoice i
                WHERE i.client_id = ANY(%(ids)s) AND i.total > 0 AND i.amount_paid < i.total
                  AND EXISTS (SELECT 1 FROM invoices_payment p WHERE p.client_id = i.client_id AND p.unallocated > 0))
            """,
            {"ids": list(client_ids)},
        )
        bad_payments, bad_invoices, credit_left_with_open = cursor.fetchone()
    ok = bad_payments == 0 and bad_invoices == 0 and credit_left_with_open == 0
    return (
        ok,
        f"{bad_payments} payment(s) and {bad_invoices} invoice(s) off, {credit_left_with_open} credit left unused",
    )


PAGE_WEIGHT_KB = 100  # the invoice list, whole page, at 100,000 clients
PICKER_MS = 150  # the client picker's answer, server time


def console_pages() -> list:
    """The invoice list and the payment form as a Finance user gets them (page weight and server
    time), and the client picker's answer for a few kinds of typing, at full scale."""
    import statistics

    from django.contrib.auth.models import Group, User
    from django.test import Client, override_settings

    # Pages render without collectstatic: plain static storage (no hashed-name manifest).
    plain = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(STORAGES=plain, ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False).enable()
    user, _ = User.objects.get_or_create(username="bench-finance")
    user.groups.add(Group.objects.get(name="Finance"))
    browser = Client()
    browser.force_login(user)

    def fetch(url):
        times = []
        for _ in range(5):
            started = time.perf_counter()
            response = browser.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        return len(response.content), statistics.median(times)

    results = []
    for label, url in [("invoice list", "/invoices/"), ("payment form", "/invoices/payments/new/")]:
        size, ms = fetch(url)
        print(f"  {label}: {size / 1024:.1f} KB in {ms:.0f} ms", flush=True)
        ok = size <= PAGE_WEIGHT_KB * 1024
        results.append((f"{label}, page weight", f"{size / 1024:.1f} KB", f"<= {PAGE_WEIGHT_KB} KB", ok))
    for label, term in [("one client", "Bench client 4242"), ("a common word", "client"), ("one letter", "b")]:
        _size, ms = fetch(f"/clients/pick/?client_search={term.replace(' ', '+')}")
        print(f"  client picker, {label} ({term!r}): {ms:.0f} ms", flush=True)
        results.append((f"client picker, {label}", f"{ms:.0f} ms", f"<= {PICKER_MS} ms", ms <= PICKER_MS))
    return results


def main():
    ensure_database(URL)
    setup_django()
    from django.db import connection

    if os.environ.get("BENCH_REUSE") == "1":
        print("Reusing the data already in the bench database (BENCH_REUSE=1)")
        # Undo an earlier run's payment posting: its clients get their generated balances back.
        touched = "SELECT client_id FROM invoices_payment WHERE reference LIKE 'BENCH-%%'"
        sql(
            "UPDATE invoices_invoice SET amount_paid = CASE WHEN id %% 10 BETWEEN 1 AND 8 THEN total ELSE 0 END"
            f" WHERE client_id IN ({touched})"
        )
        sql(f"UPDATE invoices_payment SET unallocated = 0 WHERE client_id IN ({touched})")
        sql(
            "DELETE FROM invoices_allocation"
            " WHERE payment_id IN (SELECT id FROM invoices_payment WHERE reference LIKE 'BENCH-%%')"
        )
        sql("DELETE FROM invoices_payment WHERE reference LIKE 'BENCH-%%'")
    else:
        print(f"Generating {N_CLIENTS:,} clients, {N_CLIENTS * PER_CLIENT:,} invoices, {N_CLIENTS * 8:,} payments …")
        timed("data generation (generate_series)", generate)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM invoices_invoice")
        n_invoices = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM invoices_payment")
        n_payments = cursor.fetchone()[0]
    print(f"  {n_invoices:,} invoices, {n_payments:,} payments")
    results = []

    print("1% of statuses change (as of the next nightly date):")
    reset(None, AS_OF_0)
    t_floor_1, n_floor_1 = timed("floor: one hand-written UPDATE", lambda: floor_update(AS_OF_1))
    reset(None, AS_OF_0)
    t_ours_1, counts_1 = timed(
        "ours: recalculate_statuses (chunks of 10,000 clients, with history)", lambda: ours(AS_OF_1)
    )
    changed_1 = counts_1["changed"]
    assert changed_1 == n_floor_1, (changed_1, n_floor_1)
    again = ours(AS_OF_1)["changed"]
    results += [
        ("statuses changed", f"{changed_1:,} ({changed_1 * 100 / n_invoices:.2f}%)", "about 1%", True),
        ("recalculation, 1% change", f"{t_ours_1:.2f} s", "<= 5 s", t_ours_1 <= 5),
        ("floor, 1% change", f"{t_floor_1:.2f} s", "reference", True),
        ("ours / floor, 1% change", f"{t_ours_1 / t_floor_1:.2f}x", "<= 3x", t_ours_1 / t_floor_1 <= 3),
        ("second run changes", f"{again}", "0", again == 0),
    ]

    print("All statuses change:")
    wrong = "UPDATE invoices_invoice SET status = 'partially_paid'"
    reset(wrong)
    t_floor_all, n_floor_all = timed("floor: one hand-written UPDATE", lambda: floor_update(AS_OF_0))
    reset(wrong)
    t_ours_all, counts_all = timed(
        "ours: recalculate_statuses (chunks of 10,000 clients, with history)", lambda: ours(AS_OF_0)
    )
    assert counts_all["changed"] == n_floor_all == n_invoices, (counts_all, n_floor_all)
    results += [
        ("recalculation, all change", f"{t_ours_all:.2f} s", "<= 30 s", t_ours_all <= 30),
        ("floor, all change", f"{t_floor_all:.2f} s", "reference", True),
        ("ours / floor, all change", f"{t_ours_all / t_floor_all:.2f}x", "<= 3x", t_ours_all / t_floor_all <= 3),
    ]
    sql("TRUNCATE invoices_invoicestatuschange")

    print(f"Payment posting, {POSTERS} concurrent posters × {PAYMENTS_PER_POSTER} payments:")
    total, wall, touched = post_payments()
    rate = total / wall
    print(f"  {total} payments in {wall:.2f} s")
    exact, detail = allocations_exact(touched)
    results += [
        ("payment posting throughput", f"{rate:.0f} payments/s", ">= 300 payments/s", rate >= 300),
        ("allocations exact after posting", detail, "all exact", exact),
    ]
    print("Console pages at full scale (median of 5 requests):")
    sql("ANALYZE clients_client")
    results += console_pages()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.append(("peak memory (max RSS, this process)", f"{rss_mb:.0f} MB", "<= 300 MB", rss_mb <= 300))

    print()
    print(f"{'figure':<40} {'measured':<42} {'target':<20} ok")
    for name, value, target, ok in results:
        print(f"{name:<40} {value:<42} {target:<20} {'yes' if ok else 'NO'}")
    return 0 if all(ok for *_, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
