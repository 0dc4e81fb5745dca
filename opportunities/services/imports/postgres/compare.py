"""Comparing the prepared table with the live snapshot: counts and the clients touched."""

from ..outcome import Outcome
from .swap import _definition_on


def _compare_and_index(key, columns, live, nxt, live_indexes, live_rows, file_rows):
    """The jobs after the load, by name, in the order to start them; each a tuple of statements run
    one after the other, each in its own transaction: the live table's indexes built on the new one,
    its statistics, the comparison with the live snapshot (rows: new, changed or same, old client,
    new client, count) and the live snapshot's items per client.

    ANALYZE and an index build wait for each other. The comparison either follows the build of the
    new key index (its lookups use it) or waits for nothing.
    """
    indexes = [_definition_on(d, f"{nxt}_i{i}", nxt) for i, (_n, d, _k) in enumerate(live_indexes)]
    on_key = next((i for i, (_n, d, kind) in enumerate(live_indexes) if kind == "p" and d.endswith(f"({key})")), None)
    changed = f"({', '.join('n.' + c for c in columns)}) IS DISTINCT FROM ({', '.join('t.' + c for c in columns)})"
    per_client = "SELECT client_id, count(*) FROM {} GROUP BY client_id"
    if on_key is not None and 0 <= live_rows <= file_rows:
        # The live snapshot is the smaller: look each of its items up in the new table's key index,
        # built first, rather than hash both tables whole. The items no live one matched are new:
        # the file's items per client, less the matched ones, say how many.
        compare = (
            indexes.pop(on_key),
            f"""SELECT CASE WHEN {changed} THEN 'changed' ELSE 'same' END, t.client_id, n.client_id, count(*)
                FROM {live} t CROSS JOIN LATERAL (SELECT * FROM {nxt} n WHERE n.{key} = t.{key} OFFSET 0) n
                GROUP BY 1, 2, 3""",
        )
        file = {"file": (per_client.format(nxt),)}
    else:
        compare = (
            f"""SELECT CASE WHEN t.{key} IS NULL THEN 'new' WHEN {changed} THEN 'changed' ELSE 'same' END,
                       t.client_id, n.client_id, count(*)
                FROM {nxt} n LEFT JOIN {live} t ON t.{key} = n.{key} GROUP BY 1, 2, 3""",
        )
        file = {}  # every item of the new table is in the comparison
    return {
        "matched": compare,
        **{f"index {number}": (sql,) for number, sql in enumerate(indexes)},
        **file,
        "statistics": (f"ANALYZE {nxt}",),
        "live": (per_client.format(live),),
    }


def _counts(compared, file_per_client, live_per_client):
    """new / changed / gone / unchanged and the touched clients, from the comparison grouped by
    (new, changed or same, old client, new client), the file's items per client (None: summed from
    the comparison, which then holds every item of the file) and the live snapshot's: a client has
    new items when the file names more of them than were matched, gone ones when it had more live
    items than were matched."""
    if file_per_client is None:
        file = {}
        for _op, _old_client, new_client, count in compared:
            file[new_client] = file.get(new_client, 0) + count
        file_per_client = file.items()
    outcome, counts, matched_old, matched_new = Outcome(), {}, {}, {}
    for op, old_client, new_client, count in compared:
        if op == "new":
            continue  # counted from the file's items per client, below
        counts[op] = counts.get(op, 0) + count
        matched_old[old_client] = matched_old.get(old_client, 0) + count
        matched_new[new_client] = matched_new.get(new_client, 0) + count
        if op != "same":
            outcome.touched.update((old_client, new_client))
    for client, count in file_per_client:
        outcome.clients.add(client)
        if count > matched_new.get(client, 0):
            counts["new"] = counts.get("new", 0) + count - matched_new.get(client, 0)
            outcome.touched.add(client)
    for client, count in live_per_client:
        if count > matched_old.get(client, 0):
            counts["gone"] = counts.get("gone", 0) + count - matched_old.get(client, 0)
            outcome.touched.add(client)
    outcome.new, outcome.changed = counts.get("new", 0), counts.get("changed", 0)
    outcome.gone, outcome.unchanged = counts.get("gone", 0), counts.get("same", 0)
    return outcome
