"""Import a CSV snapshot from disk: ``import_csv {devices,subscriptions,contract_lines} FILE``."""

import os

from django.core.management.base import BaseCommand, CommandError

from opportunities.models import ImportSource, SourceImport
from opportunities.services.imports import ImportRejectedError, import_path


class Command(BaseCommand):
    help = "Check and commit a CSV export; it replaces that source's snapshot (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("source", choices=ImportSource.values)
        parser.add_argument("file")

    def handle(self, *args, source, file, **options):
        if not os.path.isfile(file):
            raise CommandError(f"No such file: {file}")
        try:
            imp = import_path(source=source, path=file)
        except ImportRejectedError as exc:
            raise CommandError(str(exc)) from exc
        if imp.status != SourceImport.Status.COMMITTED:
            for error in imp.errors:
                where = f"line {error['line']}: " if error["line"] else ""
                self.stderr.write(f"  {where}{error['message']}")
            raise CommandError(f"Nothing imported: {imp.error_count} error(s) in {imp.file_name}.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {imp.rows_total} rows from {imp.file_name}: {imp.count_new} new, "
                f"{imp.count_changed} changed, {imp.count_gone} gone, {imp.count_unchanged} unchanged; "
                f"detection queued for {len(imp.touched_client_ids)} client(s)."
            )
        )
