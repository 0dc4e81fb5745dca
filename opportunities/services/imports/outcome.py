"""What an import check found (its outcome), why an upload is refused, and its progress."""

from dataclasses import dataclass, field

from django.core.cache import cache

MAX_ERRORS_KEPT = 50
PROGRESS_TTL = 3600  # seconds an import's progress stays in the cache (longer than any import runs)


class ImportRejectedError(Exception):
    """The file cannot be imported; the message says why, in words for the uploader."""


@dataclass
class Outcome:
    rows: int = 0
    new: int = 0
    changed: int = 0
    gone: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list = field(default_factory=list)  # [{"line": n, "message": "..."}]
    touched: set = field(default_factory=set)
    clients: set = field(default_factory=set)  # every client the file names (PostgreSQL engine)
    message: str = ""

    def add_error(self, line, message):
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append({"line": line, "message": message})


def report_progress(imp, fraction):
    # Not in the import's transaction (which nobody else can see until it commits).
    cache.set(imp.progress_key, max(0, min(99, int(fraction * 100))), PROGRESS_TTL)
