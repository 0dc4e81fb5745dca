"""Import a CSV snapshot from disk: ``import_csv {devices,subscriptions,contract_lines} FILE``
(contract lines: ``--effective-on YYYY-MM-DD``, by default the first day of this month)."""

import argparse
import datetime as dt
import os

from django.core.management.base import BaseCommand, CommandError

from opportunities.models import ImportSource, SourceImport
from opportunities.services.imports import ImportRejectedError, import_path


class Command(BaseCommand):
    help = "Check and commit a CSV export; it replaces that source's snapshot (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("source", choices=ImportSource.values)
        parser.add_argument("file")
        parser.add_argument(
            "--effective-on",
            type=_date,
            default=None,
            metavar="YYYY-MM-DD",
            help="Contract lines: the date the file takes effect (a gone line ends the day before; "
            "default: the first day of this month).",
        )

    def handle(self, *args, source, file, effective_on=None, **options):
        if not os.path.isfile(file):
            raise CommandError(f"No such file: {file}")
        if effective_on is not None and source != ImportSource.CONTRACT_LINES:
            raise CommandError("--effective-on is for contract lines only.")
        try:
            imp = import_path(source=source, path=file, effective_on=effective_on)
        except ImportRejectedError as exc:
            raise CommandError(str(exc)) from exc
        if imp.status != SourceImport.Status.COMMITTED:
            for error in imp.errors:
                where = f"line {error['line']}: " if error["line"] else ""
                self.stderr.write(f"  {where}{error['message']}")
            raise CommandError(f"Nothing imported: {imp.error_count} error(s) in {imp.file_name}.")
        dated = f" taking effect on {imp.effective_on.isoformat()}" if imp.effective_on else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {imp.rows_total} rows from {imp.file_name}{dated}: {imp.count_new} new, "
                f"{imp.count_changed} changed, {imp.count_gone} gone, {imp.count_unchanged} unchanged; "
                f"detection queued for {len(imp.touched_client_ids)} client(s)."
            )
        )


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None
