"""Dated contract lines: every writer of a contract line adds, changes or ends it through here.

A contract line is a chain of dated segments (``start_date`` .. ``end_date``, inclusive; a later
segment ``replaces`` the one before). What was in force on a past day is never edited away: a
change from a date ends the segment in force on the day before and starts a new one from that
date. Each service runs in a transaction, locks the contract row and then the segments it
touches, refuses bad input with a ``ValidationError`` (nothing changed) and records a
``ContractChange`` that names who, the source and the date.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models, transaction

from billingone.text import clip

from ..dates import display_date
from ..models import Contract, ContractChange, ContractLine, Product
from ..money import CENT, MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from .records import record_contract_change

Source = ContractChange.Source
Action = ContractChange.Action
DAY = dt.timedelta(days=1)
PRICE_LIMIT = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES)


# --- Checks (the one place each rule lives) ----------------------------------------------------


def clean_quantity(value) -> int:
    """A whole number of units, zero or more."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(f"Quantity “{value}” is not a whole number.")
    text = str(value).strip()
    if not text.isdigit() or not text.isascii():
        raise ValidationError(f"Quantity “{value}” is not a whole number of zero or more.")
    quantity = int(text)
    if quantity > 2_147_483_647:
        raise ValidationError(f"Quantity {quantity} is too large.")
    return quantity


def clean_unit_price(value) -> Decimal:
    """An amount of money to the cent, zero or more (never a float)."""
    if isinstance(value, float | bool):
        raise ValidationError("A unit price must be given as an exact amount, not a float.")
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(f"Unit price “{value}” is not an amount of money.") from None
    if not price.is_finite() or price < 0 or price >= PRICE_LIMIT or price != price.quantize(CENT):
        raise ValidationError(f"Unit price “{value}” is not an amount of money to the cent, zero or more.")
    return price.quantize(CENT)


def _clean_date(value, what: str) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise ValidationError(f"Give the {what} as a date.")
    return value


def _check_within_contract(contract: Contract, first: dt.date) -> None:
    if first < contract.start_date:
        raise ValidationError(
            f"{display_date(first)} is before contract {contract.number} starts ({display_date(contract.start_date)})."
        )
    if contract.end_date is not None and first > contract.end_date:
        raise ValidationError(
            f"{display_date(first)} is after contract {contract.number} ends ({display_date(contract.end_date)})."
        )


def _span(line: ContractLine) -> str:
    end = display_date(line.end_date) if line.end_date else "open"
    return f"{display_date(line.start_date)} – {end}"


def billed_line_ids(line_ids) -> set[int]:
    """The lines among ``line_ids`` that something outside ``clients`` protects: an issued invoice
    billed them (``InvoiceLine.contract_line`` is PROTECT). Read from the model's relations, so
    ``clients`` never imports the app that bills."""
    ids, billed = list(line_ids), set()
    for rel in ContractLine._meta.get_fields(include_hidden=True):
        if not rel.auto_created or rel.concrete or getattr(rel, "on_delete", None) is not models.PROTECT:
            continue
        if rel.related_model is ContractLine:
            continue
        name = rel.field.name
        rows = rel.related_model._base_manager.filter(**{f"{name}__in": ids}).values_list(rel.field.attname, flat=True)
        billed.update(rows.distinct().order_by())
    return billed


def _describe(quantity, product: Product, unit_price) -> str:
    return f"{quantity} × {product.sku} at {unit_price}"


def _with_note(text: str, note: str) -> str:
    return clip(f"{text} ({note})" if note else text, 500)


# --- Locks --------------------------------------------------------------------------------------


def _lock_contract(contract_id: int) -> Contract:
    return Contract.objects.select_for_update().get(pk=contract_id)


def _lock_line(pk: int) -> ContractLine:
    try:
        return ContractLine.objects.select_for_update().select_related("product").get(pk=pk)
    except ContractLine.DoesNotExist:
        raise ValidationError("This contract line no longer exists.") from None


def _chain_after(segment: ContractLine) -> list[ContractLine]:
    """The segments that continue ``segment``, in date order, locked."""
    later, current = [], segment
    while True:
        nxt = ContractLine.objects.select_for_update().select_related("product").filter(replaces=current).first()
        if nxt is None:
            return later
        later.append(nxt)
        current = nxt


def _segment_on(line: ContractLine, on: dt.date) -> ContractLine | None:
    """The segment of ``line``'s chain in force on ``on`` (walking back or forward), locked."""
    current = line
    while current.start_date > on and current.replaces_id:
        current = _lock_line(current.replaces_id)
    while current.end_date is not None and current.end_date < on:
        nxt = ContractLine.objects.select_for_update().select_related("product").filter(replaces=current).first()
        if nxt is None:
            break
        current = nxt
    return current if current.is_in_force(on) else None


# --- Services -----------------------------------------------------------------------------------


def add_contract_lines(lines: list[ContractLine], *, actor=None, source=Source.CONSOLE, note="") -> list[ContractLine]:
    """Add new lines (unsaved ``ContractLine`` objects, ``start_date`` empty = the contract's start)
    in bulk, each checked and recorded; the import's and ``add_contract_line``'s one path."""
    if not lines:
        return []
    with transaction.atomic():
        contracts = {
            c.pk: c
            for c in Contract.objects.select_for_update().filter(pk__in={x.contract_id for x in lines}).order_by("pk")
        }
        products = Product.objects.in_bulk({x.product_id for x in lines})
        for line in lines:
            contract = contracts.get(line.contract_id)
            if contract is None or line.product_id not in products:
                raise ValidationError("The contract or product of a new line no longer exists.")
            line.contract, line.product = contract, products[line.product_id]
            line.quantity, line.unit_price = clean_quantity(line.quantity), clean_unit_price(line.unit_price)
            line.start_date = _clean_date(line.start_date or contract.start_date, "start date")
            _check_within_contract(contract, line.start_date)
            if line.end_date is not None and _clean_date(line.end_date, "end date") < line.start_date:
                raise ValidationError("A contract line cannot end before it starts.")
        created = ContractLine.objects.bulk_create(lines, batch_size=2000)
        ContractChange.objects.bulk_create(
            [
                ContractChange(
                    contract_id=line.contract_id,
                    line_id=line.pk,
                    action=Action.LINE_ADDED,
                    detail=_with_note(
                        f"Added {_describe(line.quantity, line.product, line.unit_price)} from "
                        f"{display_date(line.start_date)}",
                        note,
                    ),
                    actor=actor,
                    source=source,
                )
                for line in created
            ],
            batch_size=2000,
        )
    return created


def add_contract_line(
    *,
    contract: Contract,
    product: Product,
    quantity: int,
    unit_price,
    start_date: dt.date | None = None,
    external_id: str = "",
    actor=None,
    source=Source.CONSOLE,
    note: str = "",
) -> ContractLine:
    """Add a line to ``contract`` in force from ``start_date`` (the contract's start by default),
    open-ended. Refused when the date lies outside the contract's dates."""
    line = ContractLine(
        contract_id=contract.pk,
        product_id=product.pk,
        quantity=quantity,
        unit_price=unit_price,
        start_date=start_date,
        external_id=external_id,
    )
    return add_contract_lines([line], actor=actor, source=source, note=note)[0]


@transaction.atomic
def change_contract_line(
    line: ContractLine,
    *,
    quantity=None,
    unit_price=None,
    product: Product | None = None,
    effective_on: dt.date,
    actor=None,
    source=Source.CONSOLE,
    note: str = "",
    locked: bool = False,
) -> ContractLine:
    """Change the line from ``effective_on`` on, and return the segment that now says so.

    The segment in force on ``effective_on`` is the one changed. Given another segment of the same
    chain (an older one, say), the chain is followed to the segment in force on that date; a date
    on which no segment of the chain is in force is refused. On that segment's own start date the
    segment is edited in place; later, it ends on the day before and a new segment from
    ``effective_on`` (to the old segment's end) replaces it, keeping the external id. Segments after
    it keep their dates and figures (the next one now continues the new segment). ``None`` keeps
    a value as it is; a change with nothing different is a no-op that returns the segment.

    ``locked``: the caller holds ``line`` and ``line.contract`` locked (read again otherwise).
    """
    effective_on = _clean_date(effective_on, "date the change takes effect")
    if locked:
        contract, segment = line.contract, _segment_on(line, effective_on)
    else:
        contract = _lock_contract(line.contract_id)
        segment = _segment_on(_lock_line(line.pk), effective_on)
    if segment is None:
        raise ValidationError(
            f"The line is not in force on {display_date(effective_on)} (its dates: {_span(_lock_line(line.pk))}); "
            "choose a date within them."
        )
    _check_within_contract(contract, effective_on)
    new_quantity = segment.quantity if quantity is None else clean_quantity(quantity)
    new_price = segment.unit_price if unit_price is None else clean_unit_price(unit_price)
    new_product = segment.product if product is None else product
    if (new_quantity, new_price, new_product.pk) == (segment.quantity, segment.unit_price, segment.product_id):
        return segment
    before = _describe(segment.quantity, segment.product, segment.unit_price)
    if effective_on == segment.start_date:
        segment.quantity, segment.unit_price, segment.product = new_quantity, new_price, new_product
        segment.save(update_fields=["quantity", "unit_price", "product", "updated_at"])
        result = segment
    else:
        # A segment another continues has an end (the day before its successor starts): an open one has none.
        successor = None
        if segment.end_date is not None:
            successor = ContractLine.objects.select_for_update().filter(replaces=segment).first()
        result = ContractLine(
            contract=contract,
            product=new_product,
            quantity=new_quantity,
            unit_price=new_price,
            external_id=segment.external_id,
            start_date=effective_on,
            end_date=segment.end_date,
            replaces=segment,
        )
        segment.end_date = effective_on - DAY
        segment.save(update_fields=["end_date", "updated_at"])
        result.save()
        if successor is not None:
            successor.replaces = result
            successor.save(update_fields=["replaces", "updated_at"])
    result.contract = contract
    record_contract_change(
        contract=contract,
        line=result,
        action=Action.LINE_CHANGED,
        detail=_with_note(
            f"Set {_describe(new_quantity, new_product, new_price)} from {display_date(effective_on)} (was {before})",
            note,
        ),
        actor=actor,
        source=source,
    )
    return result


@transaction.atomic
def end_contract_line(
    line: ContractLine, *, on: dt.date, actor=None, source=Source.CONSOLE, note: str = "", keep_billed=False
) -> ContractLine | None:
    """End the line: ``on`` is its last day in force. Returns the segment that now ends on ``on``.

    The chain's segment in force on ``on`` gets ``end_date = on``; segments of the chain that start
    after ``on`` are removed when no issued invoice billed them, and refused otherwise (with
    ``keep_billed``, as when a whole contract ends, they are left: the contract's end already stops
    them). When the whole chain starts after ``on`` and was never billed it is removed and None is
    returned. A line already ended on or before ``on`` is left as it is (a no-op).
    """
    on = _clean_date(on, "last day in force")
    contract = _lock_contract(line.contract_id)
    first = _lock_line(line.pk)
    while first.replaces_id:
        first = _lock_line(first.replaces_id)
    chain = [first, *_chain_after(first)]
    kept = [s for s in chain if s.start_date <= on]
    later = [s for s in chain if s.start_date > on]
    billed = billed_line_ids([s.pk for s in later])
    if billed and not keep_billed:
        raise ValidationError(
            f"The line cannot end on {display_date(on)}: an issued invoice billed its segment from "
            f"{display_date(min(s.start_date for s in later if s.pk in billed))}. Choose a later date."
        )
    removed = []  # the trailing segments no invoice billed (a kept billed one still needs its predecessor)
    for segment in reversed(later):
        if segment.pk in billed:
            break
        removed.append(segment)
    for segment in removed:
        segment.delete()
    last = kept[-1] if kept else None
    ended = last is not None and (last.end_date is None or last.end_date > on)
    if ended:
        last.end_date = on
        last.save(update_fields=["end_date", "updated_at"])
    if ended or removed:
        shown = last or chain[0]
        words = (
            f"Ended {_describe(shown.quantity, shown.product, shown.unit_price)}, last day in force {display_date(on)}"
        )
        if removed:
            words += f"; removed {len(removed)} segment(s) that would have started later, never billed"
        record_contract_change(
            contract=contract,
            line=last,
            action=Action.LINE_REMOVED if last is None else Action.ENDED,
            detail=_with_note(words, note),
            actor=actor,
            source=source,
        )
    return last


def end_contract_lines(*, contract: Contract, on: dt.date, actor=None, source=Source.CONSOLE, note: str = "") -> int:
    """End every line of the contract still in force after ``on`` (``on`` = last day); returns how many."""
    with transaction.atomic():
        _lock_contract(contract.pk)
        open_ids = list(
            ContractLine.objects.filter(contract=contract, replaced_by__isnull=True)
            .filter(models.Q(end_date__isnull=True) | models.Q(end_date__gt=on))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for pk in open_ids:
            end_contract_line(
                ContractLine(pk=pk, contract_id=contract.pk),
                on=on,
                actor=actor,
                source=source,
                note=note,
                keep_billed=True,
            )
    return len(open_ids)


@transaction.atomic
def remove_contract_line(line: ContractLine, *, actor=None, source=Source.CONSOLE) -> None:
    """Delete a segment entered by mistake: refused when an issued invoice billed it, or when a later
    segment continues it (end the line instead)."""
    _lock_contract(line.contract_id)
    locked = _lock_line(line.pk)
    if billed_line_ids([locked.pk]):
        raise ValidationError(
            f"{locked.product.sku} on this contract was billed on an issued invoice, so it cannot be deleted; "
            "end it on a date instead."
        )
    if ContractLine.objects.filter(replaces=locked).exists():
        raise ValidationError("A later segment continues this line; end the line instead of deleting it.")
    record_contract_change(
        contract=locked.contract,
        action=Action.LINE_REMOVED,
        detail=f"Removed {_describe(locked.quantity, locked.product, locked.unit_price)} ({_span(locked)})",
        actor=actor,
        source=source,
    )
    locked.delete()
