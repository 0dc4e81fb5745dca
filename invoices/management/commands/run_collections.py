"""cron: fire the collection steps that are due (each once per episode)."""

from django.core.management.base import BaseCommand

from clients.dates import org_today
from invoices import services

from ._common import parse_as_of


class Command(BaseCommand):
    help = "Run collection steps for overdue clients; close episodes whose overdue balance is paid."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="Date to evaluate at (YYYY-MM-DD); default today.")
        parser.add_argument("--chunk-size", type=int, default=services.CHUNK_CLIENTS, help="Clients per chunk.")

    def handle(self, *args, as_of=None, chunk_size=None, **options):
        as_of = parse_as_of(as_of) or org_today()
        totals = {"fired": 0, "opened": 0, "closed": 0}
        for chunk in services.client_chunks(chunk_size):
            for key, value in services.run_collections(as_of=as_of, client_range=chunk).items():
                totals[key] += value
        self.stdout.write(
            f"Collections as of {as_of}: {totals['fired']} step(s) fired, "
            f"{totals['opened']} episode(s) opened, {totals['closed']} closed"
        )
