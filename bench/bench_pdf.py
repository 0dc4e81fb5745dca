"""Benchmark: rendering and storing invoice PDFs in one process (target ≥ 20 invoices per second).

Creates BENCH_PDF_INVOICES (default 200) issued invoices of BENCH_PDF_LINES (default 10) lines each
for clients of its own (named "bench-pdf …", removed before and after), then renders and stores
each one's PDF as issuing does (``invoice_document``), in one process, and prints the rate and the
peak memory (max RSS, target ≤ 300 MB). One invoice in 20 has a description outside the fonts'
common copy (a ✓), so the full-font path is in the figure too; its own rate is printed beside it.

Run: ``make bench`` or ``BENCH_DATABASE_URL=postgres://... python bench/bench_pdf.py``.
"""

import datetime as dt
import os
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from _common import ensure_database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
URL = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
if URL:
    os.environ["DATABASE_URL"] = URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billingone.settings")
os.environ.setdefault("CONN_MAX_AGE", "0")
MEDIA = tempfile.TemporaryDirectory(prefix="bench-pdf-")
os.environ["MEDIA_ROOT"] = MEDIA.name  # the PDFs are written here and removed with it

N_INVOICES = int(os.environ.get("BENCH_PDF_INVOICES", "200"))
N_LINES = int(os.environ.get("BENCH_PDF_LINES", "10"))
PREFIX = "bench-pdf "
RATE_TARGET = 20.0  # invoices per second
RSS_TARGET_MB = 300
PRODUCTS = (
    "Managed workstation",
    "Managed server",
    "Microsoft 365 Business Premium",
    "Backup seat (cloud, 1 TB)",
    "Firewall monitoring — site",
    "Endpoint protection",
)


def remove_bench_rows():
    from clients.models import Client
    from invoices.models import Invoice

    Invoice.objects.filter(client__name__startswith=PREFIX).delete()  # lines, documents, messages cascade
    Client.objects.filter(name__startswith=PREFIX).delete()
    # Other benchmarks fill these tables with explicit ids: move the sequences past them.
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ["clients_client", "invoices_invoice"]:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
            )


def create_invoices() -> list:
    """The invoices, written in bulk (the rendering, not the writing, is measured)."""
    from clients.models import Client
    from invoices.models import Invoice, InvoiceLine

    issued = dt.date(2027, 2, 1)
    clients = Client.objects.bulk_create(Client(name=f"{PREFIX}{n:05d} Dental Partners") for n in range(N_INVOICES))
    invoices = []
    for n, client in enumerate(clients):
        invoices.append(
            Invoice(
                number=f"BENCH-PDF-{n:06d}",
                client=client,
                issued_on=issued,
                due_on=issued + dt.timedelta(days=30),
                period_start=issued,
                period_end=dt.date(2027, 2, 28),
                total=Decimal("0"),
                amount_due=Decimal("0"),
            )
        )
    invoices = Invoice.objects.bulk_create(invoices)
    lines = []
    for n, invoice in enumerate(invoices):
        total = Decimal("0")
        for k in range(N_LINES):
            quantity, price = Decimal(1 + (n * 7 + k * 3) % 90), Decimal("40.50") + k
            amount = quantity * price
            total += amount
            name = PRODUCTS[k % len(PRODUCTS)] + (" ✓" if n % 20 == 0 and k == 0 else "")
            lines.append(
                InvoiceLine(
                    invoice=invoice,
                    description=f"{name} — Feb 2027",
                    quantity=quantity,
                    unit_price=price,
                    amount=amount,
                    period=issued,
                    days=28,
                    days_in_month=28,
                )
            )
        invoice.total = invoice.amount_due = total
    InvoiceLine.objects.bulk_create(lines)
    Invoice.objects.bulk_update(invoices, ["total", "amount_due"])
    return invoices


def render_all(invoices) -> tuple[float, float, float]:
    """Seconds to render and store every invoice's PDF; the seconds of the full-font ones alone."""
    from invoices.services import invoice_document

    # The first PDFs of a process read the fonts (and cut their copies, on a new machine): not timed.
    invoice_document(invoices[0])  # with a ✓: the copy of every glyph
    invoice_document(invoices[1])  # the common copy
    full_font, started = 0.0, time.perf_counter()
    for n, invoice in enumerate(invoices[2:], start=2):
        one = time.perf_counter()
        invoice_document(invoice)
        if n % 20 == 0:
            full_font += time.perf_counter() - one
    return time.perf_counter() - started, full_font, len(invoices) - 2


def main():
    if os.environ["DATABASE_URL"].startswith("postgres"):
        ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    from invoices.models import InvoiceDocument

    call_command("migrate", verbosity=0)
    remove_bench_rows()
    print(f"PDF rendering: {N_INVOICES} invoices of {N_LINES} lines, rendered and stored in one process")
    invoices = create_invoices()
    try:
        elapsed, full_font, timed = render_all(invoices)
        stored = InvoiceDocument.objects.filter(invoice__client__name__startswith=PREFIX).count()
    finally:
        remove_bench_rows()
        MEDIA.cleanup()
    rate = timed / elapsed
    full_count = len(range(20, N_INVOICES, 20))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {stored} PDFs stored; the {timed} after the first two in {elapsed:.2f} s")
    print(
        f"PDF rendering: {rate:.1f} invoices/s (target ≥ {RATE_TARGET:.0f})  {'OK' if rate >= RATE_TARGET else 'SLOW'}"
    )
    if full_count and full_font:
        print(f"  of which {full_count} set in the full fonts (a ✓ in a line): {full_count / full_font:.1f} invoices/s")
    print(f"Peak memory (max RSS, this process): {rss_mb:.0f} MB (target ≤ {RSS_TARGET_MB} MB)")
    return 0  # a benchmark reports; it does not fail the run


if __name__ == "__main__":
    sys.exit(main())
