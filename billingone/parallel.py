"""Work side by side on separate database connections, the one way this project does it.

Each job runs in a thread of its own with a connection of its own (Django opens one per thread) and
closes it when done. Only PostgreSQL gains: SQLite has one writer, and inside a transaction other
connections cannot see its uncommitted rows, so there :func:`threads_for` answers 1 and the jobs
simply run one after the other on this connection.
"""

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection


def threads_for(wanted: int, *, jobs: int | None = None) -> int:
    """How many connections to use: ``wanted`` on PostgreSQL outside a transaction (never more than
    there are ``jobs``), else 1."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    limit = int(wanted) if jobs is None else min(int(wanted), jobs)
    return max(1, limit)


def _on_own_connection(function: Callable, args: tuple) -> Any:
    try:
        return function(*args)
    finally:
        connection.close()


def run_side_by_side(jobs: Iterable[tuple[Callable, tuple]], *, threads: int) -> list:
    """Run ``(function, args)`` jobs, each on its own connection when ``threads > 1``; their results
    in order. An exception in a job is raised here once every job has finished or failed."""
    jobs = list(jobs)
    if threads <= 1:
        return [function(*args) for function, args in jobs]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(_on_own_connection, function, args) for function, args in jobs]
        return [future.result() for future in futures]
