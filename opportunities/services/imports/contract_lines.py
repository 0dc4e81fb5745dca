"""Contract lines from the PSA, merged from a date: the file against the lines in force then.

A contract line is a chain of dated segments sharing one ``external_id`` (``clients.services.lines``,
the one writer of contract lines). An import takes effect on a date E (``SourceImport.effective_on``);
on a contract that starts later, on that contract's first day (the row's date, below). Each line of
the file is compared with its chain's segment in force on the row's date:

- the same figures: nothing is written (nothing is queried per line either);
- other figures: ``change_contract_line`` from the row's date (on the segment's own first day it is
  edited in place). Segments of the chain that start later keep their dates and figures: a change
  already entered for a later date stays;
- not in the file (gone): ``end_contract_line`` with E − 1 as its last day in force. Segments from E
  on are removed when no issued invoice billed them; when one did, the line ends on the latest
  billed segment's first day instead (as early as the service allows), never a ``ProtectedError``;
- no segment in force (new): ``add_contract_lines`` from the row's date; a row whose contract ends
  before that date is a row error;
- a line whose chain starts only after the row's date is a row error (import it from that date, or
  change it on the client's page): adding it would start a second, overlapping line;
- a line moved to another contract: the old one is gone, a new one starts (one gone, one new).

Every write goes through those services (one call per changed or gone line, one bulk call for the
new ones), so each records its ``ContractChange`` with source "import" and the uploader, and sets
``updated_at``. A refusal from a service is an error of the import; the commit's transaction then
leaves nothing changed (``workflow._commit``).
"""

import datetime as dt
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Q

from clients.dates import display_date, org_today
from clients.models import Contract, ContractChange, ContractLine, Product
from clients.services import add_contract_lines, billed_line_ids, change_contract_line, end_contract_line

from ..actions import latest_effective_date
from .outcome import ImportRejectedError

DAY = dt.timedelta(days=1)
SOURCE = ContractChange.Source.IMPORT


def default_effective_date() -> dt.date:
    """What a contract-lines import takes effect on unless the uploader says otherwise: the first
    day of the organisation's current month (one date for the whole file)."""
    return org_today().replace(day=1)


def check_effective_date(day) -> dt.date:
    """The import's date, or ``ImportRejectedError``: a date, at most a year ahead (as for an apply)."""
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise ImportRejectedError("Give the date the import takes effect on as a date (YYYY-MM-DD).")
    latest = latest_effective_date()
    if day > latest:
        raise ImportRejectedError(
            f"{display_date(day)} is more than a year ahead; choose a date up to {display_date(latest)}."
        )
    return day


@dataclass(frozen=True)
class Segment:
    """One stored segment of an imported line, with what the comparison needs."""

    pk: int
    client_id: int
    contract_start: dt.date
    values: tuple  # (contract_id, product_id, quantity, unit_price): as the file's rows
    start: dt.date
    end: dt.date | None

    @property
    def contract_id(self) -> int:
        return self.values[0]

    def row_date(self, effective_on: dt.date) -> dt.date:
        return max(effective_on, self.contract_start)

    def in_force(self, effective_on: dt.date) -> bool:
        on = self.row_date(effective_on)
        return self.start <= on and (self.end is None or self.end >= on)


@dataclass(frozen=True)
class Gone:
    key: str
    segment: Segment
    last_day: dt.date


@dataclass
class Plan:
    """What a commit writes: new (key, values, start), changed (key, segment, values, on), gone."""

    new: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    gone: list = field(default_factory=list)


def merge_contract_lines(imp, parsed: dict, lines: dict, outcome, *, commit: bool) -> None:
    """Compare the checked rows (key -> (client_id, values); ``lines``: key -> line of the file) with
    the segments in force on the import's date, count what changes and, on commit, write it."""
    effective_on = imp.effective_on or default_effective_date()
    plan = _plan(effective_on, parsed, lines, outcome)
    if outcome.error_count:
        return
    outcome.new, outcome.changed, outcome.gone = len(plan.new), len(plan.changed), len(plan.gone)
    if commit:
        _write(imp, plan, lines, outcome)


def _segments(effective_on: dt.date) -> dict:
    """key -> the imported lines' segments still in force on ``effective_on`` or later, by start."""
    by_key = defaultdict(list)
    rows = (
        ContractLine.objects.exclude(external_id="")
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=effective_on))
        .order_by("start_date", "pk")
        .values_list(
            "external_id",
            "pk",
            "contract__client_id",
            "contract__start_date",
            "contract_id",
            "product_id",
            "quantity",
            "unit_price",
            "start_date",
            "end_date",
        )
    )
    for key, pk, client_id, contract_start, *values, start, end in rows.iterator(chunk_size=5000):
        by_key[key].append(Segment(pk, client_id, contract_start, tuple(values), start, end))
    return by_key


def _plan(effective_on, parsed, lines, outcome) -> Plan:
    segments = _segments(effective_on)
    contracts = {
        pk: (number, start, end)
        for pk, number, start, end in Contract.objects.filter(pk__in={v[0] for _c, v in parsed.values()}).values_list(
            "pk", "number", "start_date", "end_date"
        )
    }
    plan = Plan()
    for key, (client_id, values) in parsed.items():
        number, contract_start, contract_end = contracts[values[0]]
        on = max(effective_on, contract_start)
        chain = segments.pop(key, [])
        current = next((s for s in chain if s.in_force(effective_on)), None)
        later = [s for s in chain if s.start > s.row_date(effective_on)]
        if current is None and later:
            outcome.add_error(
                lines[key],
                f'line "{key}" starts on {display_date(later[0].start)}, after this import takes effect '
                f"({display_date(on)}): import the file from that date, or change the line on the client's page",
            )
            continue
        if current is not None and current.values == values:
            outcome.unchanged += 1
            continue
        if contract_end is not None and on > contract_end:
            outcome.add_error(
                lines[key],
                f'contract "{number}" ends on {display_date(contract_end)}, before this import takes effect '
                f"({display_date(on)})",
            )
            continue
        outcome.touched.add(client_id)
        if current is not None and current.contract_id == values[0]:
            plan.changed.append((key, current, values, on))
            continue
        if current is not None:  # moved to another contract: the old line ends, a new one starts
            segments[key] = chain
        plan.new.append((key, values, on))
    plan.gone = _gone(effective_on, segments)
    outcome.touched.update(g.segment.client_id for g in plan.gone)
    return plan


def _gone(effective_on, segments) -> list[Gone]:
    """The lines no longer in the file, each with its last day in force: the day before the import's
    date, or the first day of the latest segment an issued invoice billed from then on."""
    found = []
    for key, chain in segments.items():
        current = next((s for s in chain if s.in_force(effective_on)), None)
        later = [s for s in chain if s.start >= effective_on]
        if current is not None or later:
            found.append((key, current or later[0], chain, later))
    billed = billed_line_ids([s.pk for *_rest, later in found for s in later]) if found else set()
    gone = []
    for key, segment, chain, later in found:
        last_day = max([effective_on - DAY, *(s.start for s in later if s.pk in billed)])
        kept = [s for s in chain if s.start <= last_day]
        if kept and kept[-1].end == last_day and all(s.start <= last_day for s in chain):
            continue  # it already ends then and nothing later is left to remove: nothing to do
        gone.append(Gone(key, segment, last_day))
    return gone


def _write(imp, plan: Plan, lines: dict, outcome) -> None:
    """Every write through the dated services, in the commit's transaction; a refusal is an error."""
    actor, note = imp.uploaded_by, f"import #{imp.pk}"
    contract_ids = {g.segment.contract_id for g in plan.gone} | {v[0] for _k, _s, v, _on in plan.changed}
    contract_ids |= {v[0] for _k, v, _on in plan.new}
    # The contracts locked up front, in primary-key order; each service then locks its own again.
    list(Contract.objects.select_for_update().filter(pk__in=contract_ids).order_by("pk").values_list("pk"))
    products = Product.objects.in_bulk({v[1] for _k, _s, v, _on in plan.changed})
    for gone in plan.gone:
        line = ContractLine(pk=gone.segment.pk, contract_id=gone.segment.contract_id)
        with _refusal(outcome, lines.get(gone.key), gone.key):
            end_contract_line(line, on=gone.last_day, actor=actor, source=SOURCE, note=f"{note}: not in the file")
    for key, segment, (_contract_id, product_id, quantity, price), on in plan.changed:
        line = ContractLine(pk=segment.pk, contract_id=segment.contract_id)
        with _refusal(outcome, lines.get(key), key):
            change_contract_line(
                line,
                quantity=quantity,
                unit_price=price,
                product=products[product_id],
                effective_on=on,
                actor=actor,
                source=SOURCE,
                note=note,
            )
    new = [
        ContractLine(
            contract_id=contract_id,
            product_id=product_id,
            quantity=quantity,
            unit_price=price,
            external_id=key,
            start_date=on,
        )
        for key, (contract_id, product_id, quantity, price), on in plan.new
    ]
    with _refusal(outcome, None, None):
        add_contract_lines(new, actor=actor, source=SOURCE, note=note)


@contextmanager
def _refusal(outcome, line, key):
    """A service's ``ValidationError`` becomes an error of the import (with the file's line when there
    is one); the service's savepoint rolled back, so the commit goes on collecting errors, then rolls
    back whole."""
    try:
        yield
    except ValidationError as exc:
        words = " ".join(exc.messages)
        outcome.add_error(line, f'line "{key}": {words}' if key else words)
