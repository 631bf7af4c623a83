"""Views of a book (SPEC §5): the board, lists, and the trace of a firearm or box across books."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from armory.domain.schema import to_json
from armory.domain.state import BookState, Box, Firearm
from armory.errors import InvalidInput, NotFound
from armory.ledger.entry import Entry
from armory.services.commands import CommandService
from armory.services.ledger import LedgerService

CUSTODY_EVENTS = frozenset(
    {
        "firearm_received",
        "box_received",
        "checked_out",
        "stored",
        "firearm_handed_over",
        "firearm_taken_back",
        "returned_to_supplier",
        "issued",
        "return_received",
    }
)


LISTS = {
    "firearms": "firearms",
    "boxes": "boxes",
    "people": "people",
    "locations": "locations",
    "scenes": "scenes",
    "incidents": "incidents",
    "cases": "cases",
}


class Rows:
    """The rows of a view, one per item, made again only for the items that changed.

    A book's state after a command shares every item the command did not change with the
    state before, so the board and the lists, made again after every command, write out only
    what changed. Each book's last rows are kept, with the items they were made from (checked
    by identity); only those, so what is kept stays as large as the book. The rows are shared
    between answers: never change one."""

    def __init__(self, make: Callable[[Any], Any]) -> None:
        self._make = make
        self._last: dict[str, dict[str, tuple[object, Any]]] = {}

    def __call__(self, book: str, items: Mapping[str, Any]) -> list[Any]:
        last = self._last.get(book, {})
        now: dict[str, tuple[object, Any]] = {}
        rows = []
        for key in sorted(items):
            item = items[key]
            kept = last.get(key)
            row = kept[1] if kept is not None and kept[0] is item else self._make(item)
            now[key] = (item, row)
            rows.append(row)
        self._last[book] = now
        return rows


def _firearm_now(firearm: Firearm) -> dict[str, Any]:
    inspection = firearm.inspection
    return {
        "firearm": firearm.id,
        "serial": firearm.serial,
        "description": f"{firearm.make} {firearm.model} ({firearm.calibre})",
        "kind": firearm.kind,
        "custody": to_json(firearm.custody),
        "chambers": [to_json(chamber) for chamber in firearm.contents],
        "last_inspection": None
        if inspection is None
        else {
            "index": inspection.index,
            "purpose": inspection.purpose,
            "witnesses": list(inspection.witnesses),
            "by": inspection.by,
            "current": firearm.inspection_current,
            "clear": inspection.clear,
        },
        "evidence": sorted(firearm.evidence),
        "flags": list(firearm.flags),
    }


def _box_now(box: Box) -> dict[str, Any]:
    return {
        "box": box.id,
        "label": box.label,
        "kind": box.kind,
        "load": box.load,
        "calibre": box.calibre,
        "count": box.count,
        "custody": to_json(box.custody),
        "verified_on": box.verified_on,
        "evidence": sorted(box.evidence),
    }


_firearm_rows = Rows(_firearm_now)
_box_rows = Rows(_box_now)
_list_rows = {kind: Rows(to_json) for kind in LISTS}


def board(state: BookState, book: str) -> dict[str, Any]:
    """Every firearm now, every box and its count, the open incidents, the day."""
    firearms = _firearm_rows(book, state.firearms)
    boxes = _box_rows(book, state.boxes)
    incidents = [to_json(i) for i in state.incidents.values() if i.open]
    frozen = state.frozen_by
    return {
        "book": book,
        "kind": state.kind,
        "size": state.size,
        "day": to_json(state.day),
        "frozen": None if frozen is None else {"incident": frozen.id, "kind": frozen.kind},
        "open_incidents": incidents,
        "firearms": firearms,
        "boxes": boxes,
    }


@dataclass(frozen=True)
class Step:
    book: str
    entry: Entry
    item: str

    def to_json(self) -> dict[str, Any]:
        e = self.entry
        return {
            "book": self.book,
            "index": e.index,
            "time": e.time,
            "actor": e.actor,
            "type": e.type,
            "item": self.item,
            "data": dict(e.data),
        }


class Tracer:
    """The life of a firearm or box across books, with the gaps a person must look at."""

    def __init__(self, ledger: LedgerService, commands: CommandService) -> None:
        self.ledger = ledger
        self.commands = commands

    def trace(self, book: str, item: str) -> dict[str, Any]:
        state = self.commands.state(book)
        if item not in state.firearms and item not in state.boxes:
            raise NotFound(f"there is no firearm or box {item!r} in book {book}")
        steps: list[Step] = []
        seen: set[tuple[str, str]] = set()
        self._walk(book, item, steps, seen)
        steps.sort(key=lambda s: (s.entry.time, s.book, s.entry.index))
        gaps = list(self._gaps(steps))
        thing = state.firearms.get(item) or state.boxes.get(item)
        kind = "firearm" if isinstance(thing, Firearm) else "box"
        return {
            "book": book,
            "item": item,
            "kind": kind,
            "steps": [step.to_json() for step in steps],
            "gaps": gaps,
            "flags": list(thing.flags) if isinstance(thing, Firearm) else [],
        }

    def _entries(self, book: str, indices: Iterable[int]) -> list[Entry]:
        found: list[Entry] = []
        for index in indices:
            found.extend(self.ledger.entries(book, index, index + 1))
        return found

    def _walk(self, book: str, item: str, steps: list[Step], seen: set[tuple[str, str]]) -> None:
        """Every entry of `book` naming `item`, then the same item in the books it came from
        and went to (supplier issues, returns, productions before)."""
        if (book, item) in seen or self.ledger.store.book(book) is None:
            return
        seen.add((book, item))
        indices = set(self.ledger.store.entries_naming(book, item))
        for incident in self._incidents_concerning(book, item, sorted(indices)):
            indices.update(self.ledger.store.entries_naming(book, incident))
        entries = self._entries(book, sorted(indices))
        for entry in entries:
            steps.append(Step(book, entry, item))
            source = _d(entry).get("from")
            if (
                entry.type in ("firearm_received", "box_received")
                and isinstance(source, dict)
                and "book" in source
            ):
                self._follow_issue(source["book"], source["index"], steps, seen)
            if entry.type == "issued":
                self._follow_to(_d(entry)["to"], book, entry.index, steps, seen)
            if entry.type == "returned_to_supplier":
                self._follow_return(_d(entry)["to"], book, entry.index, steps, seen)

    def _incidents_concerning(self, book: str, item: str, indices: list[int]) -> list[str]:
        """The incidents that name the item, and the critical ones opened while it was in the
        book: each froze every firearm and box there, so its report, the refused attempts to
        resolve it and its resolution belong to the item's story."""
        state = self.commands.state(book)
        if not indices:
            return []
        first, last = indices[0], indices[-1]
        thing = state.firearms.get(item) or state.boxes.get(item)
        still_here = thing is not None and thing.custody.kind != "gone"
        return [
            incident.id
            for incident in state.incidents.values()
            if item in incident.items
            or (
                incident.critical
                and first <= incident.opened_index
                and (still_here or incident.opened_index <= last)
            )
        ]

    def _follow_issue(
        self, supplier: str, index: int, steps: list[Step], seen: set[tuple[str, str]]
    ) -> None:
        for issue in self._entries(supplier, [index]):
            self._walk(supplier, _d(issue)["item"], steps, seen)

    def _follow_to(
        self,
        production: str,
        supplier: str,
        index: int,
        steps: list[Step],
        seen: set[tuple[str, str]],
    ) -> None:
        if self.ledger.store.book(production) is None:
            return
        ref = f"{supplier}#{index}"
        for received in self._entries(
            production, self.ledger.store.entries_naming(production, ref)
        ):
            if received.type in ("firearm_received", "box_received"):
                item = str(_d(received).get("firearm") or _d(received).get("box"))
                self._walk(production, item, steps, seen)

    def _follow_return(
        self,
        supplier: str,
        production: str,
        index: int,
        steps: list[Step],
        seen: set[tuple[str, str]],
    ) -> None:
        if self.ledger.store.book(supplier) is None:
            return
        ref = f"{production}#{index}"
        for received in self._entries(supplier, self.ledger.store.entries_naming(supplier, ref)):
            self._walk(supplier, _d(received)["item"], steps, seen)

    def _gaps(self, steps: list[Step]) -> Iterable[dict[str, Any]]:
        """Loud flags: a round found at return, a return with no record of receipt, an issue
        nobody received, custody with no record."""
        received_returns = {
            (_d(s.entry)["from"]["book"], _d(s.entry)["from"]["index"])
            for s in steps
            if s.entry.type == "return_received"
        }
        received_issues = {
            (_d(s.entry)["from"]["book"], _d(s.entry)["from"]["index"])
            for s in steps
            if s.entry.type in ("firearm_received", "box_received")
            and isinstance(_d(s.entry).get("from"), dict)
            and "book" in _d(s.entry)["from"]
        }
        for step in steps:
            e = step.entry
            if e.type == "return_received" and _d(e).get("finding"):
                yield {
                    "book": step.book,
                    "index": e.index,
                    "gap": "round_found_at_return",
                    "detail": _d(e)["finding"],
                }
            if (
                e.type == "returned_to_supplier"
                and (step.book, e.index) not in received_returns
                and self.ledger.store.book(_d(e)["to"]) is not None
            ):
                yield {
                    "book": step.book,
                    "index": e.index,
                    "gap": "return_not_received",
                    "detail": f"returned to {_d(e)['to']}, which has no record of receiving it",
                }
            if (
                e.type == "issued"
                and (step.book, e.index) not in received_issues
                and self.ledger.store.book(_d(e)["to"]) is not None
            ):
                yield {
                    "book": step.book,
                    "index": e.index,
                    "gap": "custody_without_record",
                    "detail": f"issued to {_d(e)['to']}, which has no record of receiving it",
                }
            if e.type == "firearm_taken_back":
                later = [s for s in steps if s.book == step.book and s.entry.index > e.index]
                nxt = later[0].entry if later else None
                if nxt is not None and nxt.type not in ("firearm_inspected", "command_refused"):
                    yield {
                        "book": step.book,
                        "index": e.index,
                        "gap": "not_inspected_after_return",
                        "detail": f"taken back, then {nxt.type} before any inspection",
                    }


def _d(entry: Entry) -> dict[str, Any]:
    """An entry's data, as the loosely typed JSON it is."""
    return dict(entry.data)


VIEWS = ("originals", "corrections", "both")


def listing(
    state: BookState, kind: str, view: str = "both", book: str = ""
) -> list[dict[str, Any]]:
    """A list of one kind of thing (or the days, the refusals). Corrections are entries of their
    own and never change the originals: `originals` shows the values as first recorded,
    `corrections` only the corrections that concern this kind, `both` the originals with each
    item's corrections beside it (and the corrected values)."""
    if view not in VIEWS:
        raise InvalidInput(f"view must be one of: {', '.join(VIEWS)}")
    if kind == "days":
        return [dict(day) for _, day in sorted(state.days.items())]
    if kind == "refusals":
        return [to_json(refusal) for refusal in state.refusals]
    if kind not in LISTS:
        raise InvalidInput(
            f"there is no list of {kind!r}: try {', '.join([*LISTS, 'days', 'refusals'])}"
        )
    items: dict[str, Any] = getattr(state, LISTS[kind])
    corrections: dict[str, list[dict[str, Any]]] = {}
    for correction in state.corrections:
        if correction.subject in items:
            corrections.setdefault(correction.subject, []).append(to_json(correction))
    if view == "corrections":
        return [c for key in sorted(corrections) for c in corrections[key]]
    rows = []
    for key, made in zip(sorted(items), _list_rows[kind](book, items), strict=True):
        row = dict(made)  # a copy: the made one is shared
        if view == "both" and key in corrections:
            row["corrections"] = corrections[key]
            corrected = dict(row)
            for change in corrections[key]:
                corrected.update(
                    {k: v for k, v in change["fields"].items() if k in row and k != "id"}
                )
            row["corrected"] = {k: v for k, v in corrected.items() if k not in ("corrections",)}
        rows.append(row)
    return rows
