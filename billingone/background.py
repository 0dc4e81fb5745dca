"""Whether background work (the Celery broker) and the cache are available, and queueing that
says so instead of hanging or failing after the fact.

A page shows a quiet banner while the broker is unreachable (``context_processors``); a service
that needs a worker calls :func:`require_broker` before it writes anything, so the request is
refused at once with a clear message and no record is left waiting for a worker that will never
hear of it; :func:`queue_on_commit` sends a task once the transaction commits and, if the broker
fails right then, calls the service's ``on_failure`` so the record is marked as not queued.
"""

import logging
import threading
import time

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)
CHECK_EVERY = 5.0  # seconds one process trusts its last look at the broker
UNAVAILABLE = (
    "Background work is unavailable right now (the task queue cannot be reached), so this was not "
    "started and nothing was changed. Try again in a few minutes; an administrator can see the "
    "state at /healthz/."
)


class BackgroundUnavailableError(Exception):
    """The broker cannot be reached: work that needs a worker cannot be queued."""

    def __init__(self, message: str = UNAVAILABLE):
        super().__init__(message)


_last_check = {"at": -CHECK_EVERY, "problem": None}


def broker_problem(*, fresh: bool = False) -> str | None:
    """What is wrong with the broker (``None`` when it answers); looked at every few seconds."""
    now = time.monotonic()
    if fresh or now - _last_check["at"] >= CHECK_EVERY:
        _last_check.update(at=now, problem=_probe_broker())
    return _last_check["problem"]


def _probe_broker() -> str | None:
    from billingone.celery import app

    if settings.CELERY_TASK_ALWAYS_EAGER or app.conf.task_always_eager:
        return None
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=2)
    except Exception as exc:  # kombu/redis/OSError: the broker is unreachable
        return f"{type(exc).__name__}: {exc}"
    return None


def cache_problem() -> str | None:
    """What is wrong with the cache, if it failed within the last few seconds."""
    from billingone.cache import ForgivingRedisCache

    return ForgivingRedisCache.problem()  # never set unless the cache is Redis and failed


def require_broker() -> None:
    """Refuse work that needs a worker while the broker is down (raises ``BackgroundUnavailableError``)."""
    if broker_problem(fresh=True):
        raise BackgroundUnavailableError()


def queue_on_commit(task, *args, on_failure=None, **kwargs) -> None:
    """Send ``task`` with these arguments when the transaction commits; if the broker refuses it
    then, log it and call ``on_failure(message)`` (which should record that nothing was queued)."""

    def send():
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception as exc:  # the broker went away between the check and the commit
            _last_check.update(at=time.monotonic(), problem=f"{type(exc).__name__}: {exc}")
            log.warning("could not queue %s: %s", getattr(task, "name", None) or "a group of tasks", exc)
            if on_failure is not None:
                on_failure(UNAVAILABLE)

    transaction.on_commit(send)


HEARTBEAT_EVERY = 15.0


class Heartbeat:
    """While long work runs, stamp ``heartbeat_at`` on its record every few seconds, from a thread
    with its own database connection (so the stamp is seen at once, outside the work's transaction).
    A record whose stamp is older than ``settings.WORK_LEASE_SECONDS`` belongs to work that died: the pages
    show it as interrupted and let the user resume or discard it.
    """

    def __init__(self, model, pk, *, every: float = HEARTBEAT_EVERY):
        self.model, self.pk, self.every = model, pk, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{model.__name__}-{pk}", daemon=True)

    def __enter__(self):
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(timeout=self.every + 5)

    def beat(self) -> None:
        from django.utils import timezone

        self.model.objects.filter(pk=self.pk).update(heartbeat_at=timezone.now())

    def _run(self) -> None:
        from django.db import DatabaseError, connection

        try:
            while not self._stop.wait(self.every):
                try:
                    self.beat()
                except DatabaseError as exc:  # SQLite busy with the work's own write: try again later
                    log.debug("heartbeat of %s #%s skipped: %s", self.model.__name__, self.pk, exc)
        finally:
            connection.close()


def lease_expired(heartbeat_at, *fallbacks) -> bool:
    """Has work that last beat at ``heartbeat_at`` (or, never having beaten, started at the first
    of ``fallbacks`` that is set) stopped?"""
    from django.utils import timezone

    last = heartbeat_at or next((value for value in fallbacks if value), None)
    return last is not None and (timezone.now() - last).total_seconds() > settings.WORK_LEASE_SECONDS
