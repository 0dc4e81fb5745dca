"""Shared by the benchmark scripts (each runs standalone: `python bench/bench_x.py`)."""

import os
import time
from urllib.parse import urlparse


def ensure_database(url=None):
    """Create the benchmark's PostgreSQL database if it does not exist yet."""
    import psycopg

    parsed = urlparse(url or os.environ["DATABASE_URL"])
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def sql(statement, params=None):
    """Run one statement on Django's connection; the number of rows it touched."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params if params is not None else [])
        return cursor.rowcount


def timed(label, fn):
    """``fn()`` timed and printed: (seconds, its result)."""
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    print(f"  {label}: {elapsed:.2f} s", flush=True)
    return elapsed, result
