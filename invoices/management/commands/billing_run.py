"""cron: build a month's billing run (drafts), and with --issue number and issue them."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from clients.models import Client
from invoices import services


def parse_period(value: str) -> dt.date:
    try:
        year, month = (int(part) for part in value.split("-"))
        return dt.date(year, month, 1)
    except ValueError:
        raise CommandError(f"--period must be a month like 2027-01, not {value!r}") from None


class Command(BaseCommand):
    help = "Build the draft invoices of a month from the contracts (all clients, or one); --issue issues them."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="The month to bill, YYYY-MM.")
        parser.add_argument("--client", type=int, action="append", help="Only this client id (repeatable).")
        parser.add_argument("--issue", action="store_true", help="Number and issue the drafts once built.")
        parser.add_argument("--issued-on", help="Issue date (YYYY-MM-DD); default today.")

    def handle(self, *args, period, client=None, issue=False, issued_on=None, **options):
        month = parse_period(period)
        if client:
            missing = set(client) - set(Client.objects.filter(pk__in=client).values_list("pk", flat=True))
            if missing:
                raise CommandError(f"No client with id {', '.join(map(str, sorted(missing)))}.")
        try:
            issue_date = dt.date.fromisoformat(issued_on) if issued_on else None
        except ValueError:
            raise CommandError(f"--issued-on must be a date like 2027-01-02, not {issued_on!r}") from None
        try:
            run = services.start_billing_run(period_start=month, client_ids=client)
            self.stdout.write(
                f"Billing run #{run.pk} for {month:%b %Y}: {run.drafts_count} draft(s), total {run.drafts_total}"
            )
            if issue:
                run = services.issue_billing_run(run, issued_on=issue_date)
                self.stdout.write(
                    f"Issued {run.issued_count} invoice(s), total {run.issued_total}; "
                    f"{run.stale_count} stale draft(s) skipped"
                )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
