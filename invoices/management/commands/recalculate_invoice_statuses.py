"""cron: set every invoice's status as of a date (today in the organisation's zone by default)."""

from django.core.management.base import BaseCommand

from clients.dates import org_today
from invoices import services

from ._common import parse_as_of


class Command(BaseCommand):
    help = "Recalculate every invoice status (idempotent, set-based, one transaction per chunk of clients)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="Date to evaluate at (YYYY-MM-DD); default today.")
        parser.add_argument("--chunk-size", type=int, default=services.CHUNK_CLIENTS, help="Clients per chunk.")

    def handle(self, *args, as_of=None, chunk_size=None, **options):
        as_of = parse_as_of(as_of) or org_today()
        counts = services.recalculate_statuses(as_of=as_of, chunk_size=chunk_size)
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()) if k != "changed")
        self.stdout.write(f"Statuses as of {as_of}: {counts['changed']} changed" + (f" ({detail})" if detail else ""))
