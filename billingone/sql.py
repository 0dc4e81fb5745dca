"""Small pieces of hand-written SQL that every database here understands."""

from django.db import connection


def among(column: str, ids) -> tuple[str, list]:
    """``column`` is one of ``ids``: one array parameter on PostgreSQL (no long placeholder list to
    expand for every statement), an ``IN (…)`` list elsewhere. Returns (SQL, parameters)."""
    ids = list(ids)
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [ids]
    if not ids:
        return "1 = 0", []
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", ids


def run(statement: str, params=()) -> int:
    """Execute one statement; the number of rows it touched."""
    with connection.cursor() as cursor:
        cursor.execute(statement, list(params))
        return cursor.rowcount
