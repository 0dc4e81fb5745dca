"""An import's life: upload, check, preview, commit or discard, all or nothing, with its progress."""

import io

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from billingone.background import Heartbeat, queue_on_commit, require_broker
from billingone.text import clip

from ...models import ImportSource, SourceImport
from ...tasks import detect_clients, process_import
from . import postgres
from .contract_lines import check_effective_date, default_effective_date
from .files import _open_checked
from .outcome import PROGRESS_TTL, ImportRejectedError, Outcome
from .python_engine import _py_process
from .specs import SPECS

BACKGROUND_BYTES = 2 * 1024 * 1024  # files larger than this are checked and committed by a worker


IMPORT_LOCK_NAMESPACE = 7301  # pg_advisory_xact_lock(namespace, source): one commit per source at a time


# --- Services -------------------------------------------------------------------------------


def create_import(*, source: str, uploaded_file, actor=None, effective_on=None) -> SourceImport:
    """Keep an uploaded file as a pending import. Refuses an unknown source or an oversized file.

    A contract-lines import takes effect on ``effective_on`` (by default the first day of the
    organisation's current month), kept on the record so the preview and the commit use one date;
    other sources have no date.
    """
    if source not in ImportSource.values:
        raise ImportRejectedError("Choose what the file contains: devices, subscriptions or contract lines.")
    if source == ImportSource.CONTRACT_LINES:
        effective_on = check_effective_date(effective_on or default_effective_date())
    elif effective_on is not None:
        raise ImportRejectedError("Only a contract-lines import takes effect from a date.")
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
        effective_on=effective_on,
    )


def runs_in_background(imp: SourceImport) -> bool:
    return imp.file_size > BACKGROUND_BYTES


def upload_import(*, source: str, uploaded_file, actor=None, effective_on=None) -> SourceImport:
    """Keep an uploaded file and check it: at once when it is small, on a worker when it is large.

    A large file is refused before anything is stored while no worker can be reached
    (``BackgroundUnavailableError``), so no import waits for a check that will never run.
    """
    if uploaded_file.size > BACKGROUND_BYTES:
        require_broker()
    imp = create_import(source=source, uploaded_file=uploaded_file, actor=actor, effective_on=effective_on)
    if runs_in_background(imp):
        schedule_validation(imp)
    else:
        validate_import(imp=imp)
    return imp


def schedule_validation(imp: SourceImport) -> None:
    """Queue the check of a large import on a worker once this transaction commits."""
    require_broker()
    pk = imp.pk

    def not_queued(message):
        SourceImport.objects.filter(pk=pk, status=SourceImport.Status.PENDING).update(
            status=SourceImport.Status.FAILED, message=clip(f"The file was not checked: {message}", 500)
        )

    queue_on_commit(process_import, pk, "validate", on_failure=not_queued)


def resume_import(*, imp: SourceImport, actor=None) -> SourceImport:
    """Start again the check or the commit of an import whose work stopped (a killed worker or web
    process). The dead work changed nothing (its transaction rolled back), so running it again is safe."""
    if runs_in_background(imp):
        require_broker()
    with transaction.atomic():
        locked = SourceImport.objects.select_for_update().get(pk=imp.pk)
        if not locked.stopped:
            raise ImportRejectedError("This import is not interrupted; there is nothing to resume.")
        committing = locked.status == SourceImport.Status.COMMITTING
        locked.status = SourceImport.Status.READY if committing else SourceImport.Status.PENDING
        locked.message = ""
        locked.save(update_fields=["status", "message"])
    if committing:
        return request_commit(imp=locked, actor=actor)
    if runs_in_background(locked):
        schedule_validation(locked)
        return locked
    return validate_import(imp=locked)


def request_commit(*, imp: SourceImport, actor=None) -> SourceImport:
    """Commit a checked import: at once when it is small; a large one is queued (``schedule_commit``)."""
    if imp.status != SourceImport.Status.READY:
        raise ImportRejectedError("Only a checked import without errors can be committed.")
    if runs_in_background(imp):
        schedule_commit(imp, actor=actor)
        return imp
    return commit_import(imp=imp, actor=actor)


def schedule_commit(imp: SourceImport, *, actor=None) -> None:
    """Mark a checked import as committing and queue its commit on a worker; refused at once
    (nothing changed, still ready) while no worker can be reached."""
    require_broker()
    pk, user_id = imp.pk, getattr(actor, "pk", None)
    SourceImport.objects.filter(pk=pk, status=SourceImport.Status.READY).update(
        status=SourceImport.Status.COMMITTING, progress=0, heartbeat_at=timezone.now()
    )
    imp.status, imp.progress = SourceImport.Status.COMMITTING, 0

    def not_queued(message):  # back to where it was: still checked, still committable
        SourceImport.objects.filter(pk=pk, status=SourceImport.Status.COMMITTING).update(
            status=SourceImport.Status.READY, message=clip(f"Not committed: {message}", 500)
        )

    queue_on_commit(process_import, pk, "commit", user_id=user_id, on_failure=not_queued)


def validate_import(*, imp: SourceImport) -> SourceImport:
    """Check the file and count what a commit would do; changes nothing but the import record.

    (On PostgreSQL, devices and subscriptions: it also prepares the table a commit swaps in.)
    """
    _set_status(imp, SourceImport.Status.VALIDATING)
    with Heartbeat(SourceImport, imp.pk):
        return _validate(imp)


def _validate(imp):
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
    with Heartbeat(SourceImport, imp.pk):
        return _commit(imp, actor, queue_detection)


def _commit(imp, actor, queue_detection):
    if _swaps(imp):
        return _commit_swap(imp, actor, queue_detection)
    outcome = Outcome()
    try:
        with transaction.atomic():
            # SQLite serialises writers; on PostgreSQL one commit per source at a time (two
            # contract-lines files compared with the same lines would both add them). The import
            # itself is locked, so a double-submitted commit finds it already committed.
            _lock_source(imp)
            if _finished_elsewhere(imp):
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
                _lock_source(imp)
                if _finished_elsewhere(imp):
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
        ids, pk = sorted(outcome.touched), imp.pk

        def not_queued(message):  # the import stands; only the follow-up detection is missing
            SourceImport.objects.filter(pk=pk).update(
                message=clip(f"Imported, but detection was not queued ({message}) Use “Run detection now”.", 500)
            )

        queue_on_commit(detect_clients, ids, import_id=pk, on_failure=not_queued)
    return imp


def _failed(imp, exc, step="committed"):
    # Nothing was changed (the transaction rolled back); say so instead of failing the page.
    outcome = Outcome(message=clip(f"The import could not be {step} and changed nothing: {exc}", 500))
    return _finish(imp, outcome, SourceImport.Status.FAILED)


def _invalid(imp, outcome):
    outcome.new = outcome.changed = outcome.gone = outcome.unchanged = 0
    outcome.touched = set()
    return _finish(imp, outcome, SourceImport.Status.INVALID)


def _lock_source(imp) -> None:
    """PostgreSQL: wait for any other commit of this source (the lock ends with the transaction)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [IMPORT_LOCK_NAMESPACE, ImportSource.values.index(imp.source)]
            )


def _finished_elsewhere(imp) -> bool:
    """Lock the import; was it committed (a double submit) or discarded (after its work was thought
    stopped) meanwhile? Then this commit does nothing."""
    status = SourceImport.objects.select_for_update().get(pk=imp.pk).status
    if status in (SourceImport.Status.COMMITTED, SourceImport.Status.DISCARDED):
        imp.refresh_from_db()
        return True
    return False


def _already_committed(imp):
    if SourceImport.objects.filter(pk=imp.pk, status=SourceImport.Status.COMMITTED).exists():
        imp.refresh_from_db()
        return True
    return False


@transaction.atomic
def discard_import(*, imp: SourceImport) -> SourceImport:
    """Drop an import that was not committed (its record stays, as history). A committed import, or
    one being committed, is refused: discarding it would not undo anything."""
    locked = SourceImport.objects.select_for_update().get(pk=imp.pk)
    if locked.status == SourceImport.Status.COMMITTED:
        raise ImportRejectedError("This import is committed; it can no longer be discarded.")
    if locked.status == SourceImport.Status.COMMITTING and not locked.stopped:
        raise ImportRejectedError("This import is being committed; it cannot be discarded now.")
    if locked.status != SourceImport.Status.DISCARDED:
        locked.status = SourceImport.Status.DISCARDED
        locked.save(update_fields=["status"])
        if _swaps(locked):
            postgres.drop_prepared(locked)
    return locked


def import_path(*, source: str, path: str, actor=None, queue_detection=True, effective_on=None) -> SourceImport:
    """Import a file from disk (the management command): keep it, check it, commit it."""
    with open(path, "rb") as fh:
        fh.size = fh.seek(0, io.SEEK_END)
        fh.seek(0)
        upload = File(fh, name=path.rsplit("/", 1)[-1])
        imp = create_import(source=source, uploaded_file=upload, actor=actor, effective_on=effective_on)
    return commit_import(imp=imp, actor=actor, queue_detection=queue_detection)


# --- Bookkeeping -----------------------------------------------------------------------------


def _set_status(imp, status):
    imp.status = status
    imp.progress = 0
    SourceImport.objects.filter(pk=imp.pk).exclude(status=SourceImport.Status.COMMITTED).update(
        status=status, progress=0, heartbeat_at=timezone.now()
    )
    cache.set(imp.progress_key, 0, PROGRESS_TTL)


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
    cache.set(imp.progress_key, 100, PROGRESS_TTL)
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


__all__ = [
    "ImportRejectedError",
    "commit_import",
    "create_import",
    "discard_import",
    "import_path",
    "request_commit",
    "resume_import",
    "runs_in_background",
    "schedule_commit",
    "schedule_validation",
    "upload_import",
    "validate_import",
]
