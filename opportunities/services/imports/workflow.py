"""An import's life: upload, check, preview, commit or discard, all or nothing, with its progress."""

import io

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from billingone.text import clip
from clients.models import ContractLine

from ...models import Device, ImportSource, SourceImport, Subscription
from . import postgres
from .files import _open_checked
from .outcome import PROGRESS_TTL, ImportRejectedError, Outcome, progress_key
from .python_engine import _py_process
from .specs import SPECS

BACKGROUND_BYTES = 2 * 1024 * 1024  # files larger than this are checked and committed by a worker


IMPORT_LOCK_NAMESPACE = 7301  # pg_advisory_xact_lock(namespace, source): one commit per source at a time


# --- Services -------------------------------------------------------------------------------


def create_import(*, source: str, uploaded_file, actor=None) -> SourceImport:
    """Keep an uploaded file as a pending import. Refuses an unknown source or an oversized file."""
    if source not in ImportSource.values:
        raise ImportRejectedError("Choose what the file contains: devices, subscriptions or contract lines.")
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if uploaded_file.size > limit:
        raise ImportRejectedError(
            f"The file is {uploaded_file.size / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.0f} MB."
        )
    if uploaded_file.size == 0:
        raise ImportRejectedError("The file is empty.")
    name = clip((getattr(uploaded_file, "name", "") or "upload.csv").rsplit("/", 1)[-1], 255)
    return SourceImport.objects.create(
        source=source,
        file=File(uploaded_file, name=name),
        file_name=name,
        file_size=uploaded_file.size,
        uploaded_by=actor,
    )


def runs_in_background(imp: SourceImport) -> bool:
    return imp.file_size > BACKGROUND_BYTES


def validate_import(*, imp: SourceImport) -> SourceImport:
    """Check the file and count what a commit would do; changes nothing but the import record.

    (On PostgreSQL, devices and subscriptions: it also prepares the table a commit swaps in.)
    """
    _set_status(imp, SourceImport.Status.VALIDATING)
    outcome = Outcome()
    try:
        if _swaps(imp):
            outcome = _prepare(imp)
        else:
            with transaction.atomic():
                _process(imp, outcome, commit=False)
                transaction.set_rollback(True)  # a dry run: whatever was staged goes away
    except ImportRejectedError as exc:
        outcome.add_error(None, str(exc))
    except DatabaseError as exc:
        return _failed(imp, exc, "checked")
    status = SourceImport.Status.INVALID if outcome.error_count else SourceImport.Status.READY
    return _finish(imp, outcome, status)


def commit_import(*, imp: SourceImport, actor=None, queue_detection=True) -> SourceImport:
    """Replace the source's snapshot with the file, all or nothing; queue detection for touched clients.

    ``queue_detection=False`` is for callers that run detection themselves (the demo seed).
    """
    if imp.status == SourceImport.Status.COMMITTED or _already_committed(imp):
        return imp
    _set_status(imp, SourceImport.Status.COMMITTING)
    if _swaps(imp):
        return _commit_swap(imp, actor, queue_detection)
    outcome = Outcome()
    try:
        with transaction.atomic():
            # SQLite serialises writers; the import itself is locked, so a double-submitted commit
            # finds it already committed.
            if SourceImport.objects.select_for_update().get(pk=imp.pk).status == SourceImport.Status.COMMITTED:
                imp.refresh_from_db()
                return imp
            _process(imp, outcome, commit=True)
            if not outcome.error_count:
                return _committed(imp, outcome, actor, queue_detection)
            transaction.set_rollback(True)  # a bad row: nothing of the file stays
    except ImportRejectedError as exc:
        outcome.add_error(None, str(exc))
    except DatabaseError as exc:
        return _failed(imp, exc)
    return _invalid(imp, outcome)


def _commit_swap(imp, actor, queue_detection):
    """PostgreSQL, devices and subscriptions: swap the prepared table in (preparing it first if
    there is none, or if another snapshot went live since the preview)."""
    for _attempt in range(3):
        if postgres.is_prepared(imp):
            outcome = Outcome(
                rows=imp.rows_total,
                new=imp.count_new,
                changed=imp.count_changed,
                gone=imp.count_gone,
                unchanged=imp.count_unchanged,
                touched=set(imp.touched_client_ids),
            )
        else:
            try:
                outcome = _prepare(imp)
            except ImportRejectedError as exc:
                outcome = Outcome()
                outcome.add_error(None, str(exc))
            if outcome.error_count:
                return _invalid(imp, outcome)
        try:
            with transaction.atomic():
                # One commit per source at a time; the import itself locked, so a double-submitted
                # commit finds it already committed.
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock(%s, %s)",
                        [IMPORT_LOCK_NAMESPACE, ImportSource.values.index(imp.source)],
                    )
                if SourceImport.objects.select_for_update().get(pk=imp.pk).status == SourceImport.Status.COMMITTED:
                    imp.refresh_from_db()
                    return imp
                postgres.swap_in(imp)
                return _committed(imp, outcome, actor, queue_detection)
        except postgres.StaleSnapshotError:
            # Another import went live since the preview, a rule changed, or a migration changed
            # the table: prepare again (and compare with the snapshot live now).
            postgres.drop_prepared(imp)
            continue
        except postgres.ClientGoneError:
            postgres.drop_prepared(imp)
            continue  # preparing again reports the rows of the deleted client, with their lines
        except DatabaseError as exc:
            if "lock timeout" not in str(exc):
                return _failed(imp, exc)
            # Readers held the snapshot too long. Nothing changed and the preview still stands.
            outcome.message = (
                "Not committed yet: the snapshot is being read (detection may be running). Commit again in a minute."
            )
            return _finish(imp, outcome, SourceImport.Status.READY)
    return _failed(imp, "other imports of this source kept replacing the snapshot; commit again")


def _committed(imp, outcome, actor, queue_detection):
    imp.committed_at = timezone.now()
    imp.committed_by = actor or imp.committed_by
    _finish(imp, outcome, SourceImport.Status.COMMITTED)
    if outcome.touched and queue_detection:
        from ...tasks import detect_clients

        ids, pk = sorted(outcome.touched), imp.pk
        transaction.on_commit(lambda: detect_clients.delay(ids, import_id=pk))
    return imp


def _failed(imp, exc, step="committed"):
    # Nothing was changed (the transaction rolled back); say so instead of failing the page.
    outcome = Outcome(message=clip(f"The import could not be {step} and changed nothing: {exc}", 500))
    return _finish(imp, outcome, SourceImport.Status.FAILED)


def _invalid(imp, outcome):
    outcome.new = outcome.changed = outcome.gone = outcome.unchanged = 0
    outcome.touched = set()
    return _finish(imp, outcome, SourceImport.Status.INVALID)


def _already_committed(imp):
    if SourceImport.objects.filter(pk=imp.pk, status=SourceImport.Status.COMMITTED).exists():
        imp.refresh_from_db()
        return True
    return False


@transaction.atomic
def discard_import(*, imp: SourceImport) -> SourceImport:
    """Drop an import that was not committed (its record stays, as history)."""
    locked = SourceImport.objects.select_for_update().get(pk=imp.pk)
    if locked.status not in (SourceImport.Status.COMMITTED, SourceImport.Status.COMMITTING):
        locked.status = SourceImport.Status.DISCARDED
        locked.save(update_fields=["status"])
        if _swaps(locked):
            postgres.drop_prepared(locked)
    return locked


def import_path(*, source: str, path: str, actor=None, queue_detection=True) -> SourceImport:
    """Import a file from disk (the management command): keep it, check it, commit it."""
    with open(path, "rb") as fh:
        fh.size = fh.seek(0, io.SEEK_END)
        fh.seek(0)
        imp = create_import(source=source, uploaded_file=File(fh, name=path.rsplit("/", 1)[-1]), actor=actor)
    return commit_import(imp=imp, actor=actor, queue_detection=queue_detection)


def progress_of(imp: SourceImport) -> int:
    value = cache.get(progress_key(imp.pk))
    return imp.progress if value is None else int(value)


# --- Bookkeeping -----------------------------------------------------------------------------


def _set_status(imp, status):
    imp.status = status
    imp.progress = 0
    SourceImport.objects.filter(pk=imp.pk).exclude(status=SourceImport.Status.COMMITTED).update(
        status=status, progress=0
    )
    cache.set(progress_key(imp.pk), 0, PROGRESS_TTL)


def _finish(imp, outcome, status):
    imp.status = status
    imp.progress = 100
    imp.rows_total = outcome.rows
    imp.count_new, imp.count_changed, imp.count_gone = outcome.new, outcome.changed, outcome.gone
    imp.count_unchanged = outcome.unchanged
    imp.error_count = outcome.error_count
    imp.errors = sorted(outcome.errors, key=lambda e: (e["line"] is not None, e["line"] or 0))
    imp.touched_client_ids = sorted(outcome.touched)
    imp.message = clip(outcome.message, 500)
    imp.save()
    cache.set(progress_key(imp.pk), 100, PROGRESS_TTL)
    return imp


def _swaps(imp) -> bool:
    """Is this import run by the PostgreSQL engine (prepare a table, swap it in)?"""
    return connection.vendor == "postgresql" and imp.source in postgres.MODELS


def _prepare(imp) -> Outcome:
    """PostgreSQL: prepare the import's table; when a row is bad, the full check says which."""
    spec = SPECS[imp.source]
    fh, delimiter, names = _open_checked(imp, spec)
    with fh:
        outcome = postgres.build_next(imp, spec, fh, delimiter, names)
    if outcome is not None:
        return outcome
    outcome = Outcome()
    fh, delimiter, names = _open_checked(imp, spec)
    with fh:
        with transaction.atomic():
            postgres.report(imp, spec, fh, delimiter, names, outcome)
            transaction.set_rollback(True)  # only temporary tables were written
    if not outcome.error_count:  # the fast path refused a row the full check accepts
        outcome.add_error(None, "The file could not be checked; nothing was imported. Please report this file.")
    return outcome


def _process(imp, outcome, *, commit):
    """The Python engine (SQLite; contract lines everywhere)."""
    spec = SPECS[imp.source]
    fh, delimiter, names = _open_checked(imp, spec)
    with fh:
        _py_process(imp, spec, fh, delimiter, names, outcome, commit=commit)


def summary_counts():
    """How many items each source holds now (for the imports page)."""
    return {
        ImportSource.DEVICES: Device.objects.count(),
        ImportSource.SUBSCRIPTIONS: Subscription.objects.count(),
        ImportSource.CONTRACT_LINES: ContractLine.objects.exclude(external_id="").count(),
    }


__all__ = [
    "ImportRejectedError",
    "commit_import",
    "create_import",
    "discard_import",
    "import_path",
    "runs_in_background",
    "validate_import",
]
