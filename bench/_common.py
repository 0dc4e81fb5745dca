"""Shared by the benchmark scripts (each runs standalone: `python bench/bench_x.py`)."""

import os
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
