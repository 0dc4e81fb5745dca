"""CSV imports of the source snapshots: devices (RMM), subscriptions (distributor), contract lines (PSA).

Upload → check (header, then every row, with line numbers) → preview (new / changed /
gone) → commit, all or nothing. A committed import replaces that source's snapshot and
queues detection for the clients it touched.

Two engines, one behaviour:

- PostgreSQL, devices and subscriptions (``postgres``): the file is streamed with
  ``COPY`` (never whole in memory) and checked, mapped and compared in SQL; the preview
  prepares the next snapshot as a table of its own and the commit swaps it in.
- Everything else (SQLite; contract lines, which are few and audited per line):
  the file is streamed through Python's ``csv`` reader; devices and subscriptions are written
  with bulk operations, contract lines are merged from the import's date (``effective_on``)
  through the dated contract-line services (``contract_lines``: a gone line is ended, never
  deleted; a changed line is changed from that date).

Real exports arrive with a UTF-8 BOM, Windows line endings or semicolons: all
accepted. A cell starting with ``=`` is stored as text; nothing here evaluates it.
"""

from .contract_lines import check_effective_date, default_effective_date
from .outcome import ImportRejectedError, Outcome
from .postgres import drop_stale_previews
from .specs import SPECS, SourceSpec
from .workflow import (
    BACKGROUND_BYTES,
    commit_import,
    create_import,
    discard_import,
    import_path,
    request_commit,
    resume_import,
    runs_in_background,
    schedule_commit,
    schedule_validation,
    upload_import,
    validate_import,
)

__all__ = [
    "BACKGROUND_BYTES",
    "SPECS",
    "ImportRejectedError",
    "Outcome",
    "SourceSpec",
    "check_effective_date",
    "commit_import",
    "create_import",
    "default_effective_date",
    "discard_import",
    "drop_stale_previews",
    "import_path",
    "request_commit",
    "resume_import",
    "runs_in_background",
    "schedule_commit",
    "schedule_validation",
    "upload_import",
    "validate_import",
]
