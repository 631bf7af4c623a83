"""Scanning a label to open its item, and the trace of an item across books (SPEC §5, §7).

A printed label's QR code holds `armory:<book>:<item>` (`label_payload`). Book ids cannot hold a
colon, so the first colon after the prefix splits the two, and a label scanned in another
production's book says whose it is instead of opening nothing. The same address takes what a
person types with gloves on: the id, the printed label text or the serial number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from armory.domain.state import BookState
from armory.entrypoints.web.api import BOOK_ID_PATTERN, ItemId, Services
from armory.entrypoints.web.pages.core import BookPage, Page, Svc, path_quote, redirect, render
from armory.errors import NotFound

router = APIRouter(include_in_schema=False)

PAYLOAD_PREFIX = "armory:"
# The printed form separates book and item with a colon; a slash is read as well, since book
# ids hold neither and people write "book/item" by habit.
PAYLOAD_SEPARATORS = re.compile(r"[:/]")
BOOK_ID = re.compile(BOOK_ID_PATTERN)
MAX_CODE = 300

GAP_WORDS = {
    "round_found_at_return": "A round was found when it came back",
    "return_not_received": "Returned, but the receiving book has no record of it",
    "custody_without_record": "Custody with no record: sent, and never recorded as received",
    "not_inspected_after_return": "Taken back without an inspection",
}


def label_payload(book: str, item: str) -> str:
    """The text a printed label's QR code holds for `item` of `book`."""
    return f"{PAYLOAD_PREFIX}{book}:{item}"


def parse_payload(code: str) -> tuple[str, str] | None:
    """The (book, item) a label's code names; None when the text is not a label's code."""
    if code[: len(PAYLOAD_PREFIX)].lower() != PAYLOAD_PREFIX:
        return None
    parts = PAYLOAD_SEPARATORS.split(code[len(PAYLOAD_PREFIX) :], maxsplit=1)
    if len(parts) != 2:
        return None
    book, item = parts[0], parts[1].strip()
    if not BOOK_ID.fullmatch(book) or not item:
        return None
    return book, item


@dataclass(frozen=True)
class ItemRef:
    """A firearm or box of a book, as a page links to it."""

    kind: str  # "firearm" or "box"
    id: str
    what: str

    def url(self, book: str) -> str:
        folder = "firearms" if self.kind == "firearm" else "boxes"
        return f"/b/{path_quote(book)}/{folder}/{path_quote(self.id)}"


def item_ref(state: BookState, item: str) -> ItemRef | None:
    """The firearm or box `item` of the book, described in a line; None if it has neither."""
    firearm = state.firearms.get(item)
    if firearm is not None:
        return ItemRef("firearm", item, f"{firearm.make} {firearm.model}, serial {firearm.serial}")
    box = state.boxes.get(item)
    if box is not None:
        load = f" {box.load}-load" if box.load else ""
        return ItemRef("box", item, f"{box.label}: {box.count}{load} {box.kind}, {box.calibre}")
    return None


def _loose(text: str) -> str:
    """Text as a gloved hand may type it: any case, any run of spaces."""
    return " ".join(text.split()).casefold()


def find_items(state: BookState, typed: str) -> list[ItemRef]:
    """The items a typed code names: by id, then by label text or serial, exactly; failing
    that, the same ignoring case and spacing. Several when a printed label text is shared."""
    names: list[tuple[str, tuple[str, ...]]] = [
        (f.id, (f.label or "", f.serial)) for f in state.firearms.values()
    ]
    names += [(b.id, (b.label,)) for b in state.boxes.values()]
    tiers: tuple[Callable[[str, tuple[str, ...]], bool], ...] = (
        lambda item, _others: item == typed,
        lambda _item, others: typed in others,
        lambda item, others: _loose(typed) in {_loose(n) for n in (item, *others) if n},
    )
    for matches in tiers:
        found = sorted(item for item, others in names if matches(item, others))
        refs = [ref for item in found if (ref := item_ref(state, item)) is not None]
        if refs:
            return refs
    return []


@dataclass(frozen=True)
class Elsewhere:
    """A label of another book, scanned here: whose it is, and what it is in this book."""

    book: str
    item: str
    exists: bool  # whether this server has that book
    readable: bool  # whether the person may open that book
    book_name: str = ""  # only for a book the person may read: its name is theirs to know
    here: list[ItemRef] = field(default_factory=list)  # the same item, as this book knows it


def elsewhere(svc: Services, page: BookPage, book: str, item: str) -> Elsewhere:
    """What to say of the label of `item` of another `book`. Its trace across books finds the
    same firearm or box under this book's own id, when it came here from there (or went)."""
    try:
        record = svc.ledger.book(book)
    except NotFound:
        return Elsewhere(book, item, exists=False, readable=False)
    readable = page.account.is_admin or bool(svc.access.roles(page.account, book))
    try:
        steps = svc.tracer.trace(book, item)["steps"]
    except NotFound:
        steps = []
    ids = sorted({step["item"] for step in steps if step["book"] == page.book.id})
    here = [ref for found in ids if (ref := item_ref(page.state, found)) is not None]
    name = record.name if readable else ""
    return Elsewhere(book, item, exists=True, readable=readable, book_name=name, here=here)


def _scan_page(request: Request, page: BookPage, status: int = 200, **context: Any) -> HTMLResponse:
    known = sorted(
        {*page.state.firearms, *page.state.boxes}
        | {f.label for f in page.state.firearms.values() if f.label}
        | {b.label for b in page.state.boxes.values()}
    )
    full = {"code": "", "missing": None, "other": None, "matches": [], "known": known, **context}
    return render(request, "pages/scan.html", full, status, page=page)


@router.get("/b/{book}/scan", response_class=HTMLResponse)
def scan(request: Request, page: Page) -> HTMLResponse:
    return _scan_page(request, page)


@router.get("/b/{book}/items", response_class=HTMLResponse)
def open_item(
    request: Request,
    page: Page,
    svc: Svc,
    code: Annotated[str, Query(max_length=MAX_CODE)] = "",
) -> Response:
    """Go to the item a scanned or typed code names; otherwise the scan page says why not."""
    typed = code.strip()
    book = page.book.id
    if not typed:
        return redirect(f"/b/{path_quote(book)}/scan")
    named = parse_payload(typed)
    if named is not None and named[0] != book:
        other = elsewhere(svc, page, *named)
        return _scan_page(request, page, 404, code=typed, other=other)
    if named is not None:
        ref = item_ref(page.state, named[1])
        found = [ref] if ref is not None else []
    else:
        found = find_items(page.state, typed)
    if len(found) == 1:
        return redirect(found[0].url(book))
    if found:
        return _scan_page(request, page, code=typed, matches=found)
    return _scan_page(request, page, 404, code=typed, missing=named[1] if named else typed)


# The trace


@dataclass(frozen=True)
class TraceStep:
    """One entry of an item's history, as the timeline shows it."""

    anchor: str
    book: str
    book_name: str
    here: bool  # an entry of the book being looked at
    index: int
    time: str
    actor: str
    title: str
    refused: bool
    rule: str
    message: str
    gaps: list[str]
    details: list[str]
    recorded: str  # the entry's data, in full, for whoever wants every field


def _title(kind: str) -> str:
    return kind.replace("_", " ").capitalize()


def _gap_words(gap: Mapping[str, Any]) -> str:
    code = str(gap.get("gap", "gap"))
    words = GAP_WORDS.get(code, _title(code))
    detail = gap.get("detail")
    return f"{words} ({detail})" if detail else words


def _chambers(chambers: Iterable[Any]) -> str:
    rows = [c for c in chambers if isinstance(c, Mapping)]
    contents = {str(c.get("content")) for c in rows}
    if len(contents) == 1 and not any(c.get("box") for c in rows):
        return f"all {len(rows)} chambers {contents.pop()}"
    parts = []
    for c in rows:
        box = f" from {c['box']}" if c.get("box") else ""
        parts.append(f"{c.get('n')} {c.get('content')}{box}")
    return "chambers " + ", ".join(parts)


def _people(value: Any, name: Callable[[str], str]) -> str:
    found = value if isinstance(value, list) else [value]
    return ", ".join(
        name(str(p.get("person") if isinstance(p, Mapping) else p)) for p in found if p
    )


def _source(data: Mapping[str, Any], name: Callable[[str], str]) -> list[str]:
    """Where the item came from: another book's entry, a supplier's words, or a place."""
    source = data.get("from")
    if isinstance(source, Mapping) and "book" in source:
        return [f"from book {source['book']}, entry #{source.get('index')}"]
    if isinstance(source, Mapping) and "source" in source:
        return [f"from {source['source']}"]
    if isinstance(source, str):
        return [f"from {name(source)}"]
    return []


def _inspection(data: Mapping[str, Any]) -> list[str]:
    """What an inspection found, chamber by chamber; an issue or a return carries one too."""
    found = data.get("inspection")
    inspection: Mapping[str, Any] = found if isinstance(found, Mapping) else data
    out: list[str] = []
    if data.get("purpose"):
        out.append(f"{data['purpose']} inspection")
    chambers = inspection.get("chambers")
    if isinstance(chambers, list) and chambers:
        out.append(_chambers(chambers))
    bore = inspection.get("bore_clear")
    if bore is not None:
        out.append("bore clear" if bore else "BORE NOT CLEAR")
    if data.get("clear") is False:
        out.append("NOT CLEAR")
    return out


PLACES = (("to", "to"), ("location", "into"), ("scene", "scene"))
PEOPLE = (("witnesses", "witnessed by"), ("approvals", "approved by"))
PLAIN = (
    ("count", "count"),
    ("method", "method"),
    ("finding", "FINDING"),
    ("case", "case"),
    ("reason", "reason"),
    ("description", ""),
    ("resolution", "resolution"),
)


def _details(data: Mapping[str, Any], name: Callable[[str], str]) -> list[str]:
    """The fields a person looks for first, in words; the timeline also offers all of them."""
    out = _source(data, name)
    out += [f"{words} {name(data[key])}" for key, words in PLACES if isinstance(data.get(key), str)]
    out += _inspection(data)
    out += [f"{words} {_people(data[key], name)}" for key, words in PEOPLE if data.get(key)]
    for key, words in PLAIN:
        if data.get(key) not in (None, ""):
            out.append(f"{words}: {data[key]}" if words else str(data[key]))
    if data.get("flags"):
        out.append("flags: " + ", ".join(str(f) for f in data["flags"]))
    return out


class _Names:
    """People's and places' names in each book of a trace, read once per book."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.books = {record.id: record.name for record in svc.ledger.books()}
        self._states: dict[str, BookState] = {}

    def of(self, book: str) -> Callable[[str], str]:
        if book not in self._states:
            self._states[book] = self.svc.commands.state(book)
        state = self._states[book]

        def name(key: str) -> str:
            if key in state.people:
                return f"{state.people[key].name} ({key})"
            if key in state.locations:
                return state.locations[key].name
            return key

        return name


def trace_steps(svc: Services, book: str, traced: Mapping[str, Any]) -> list[TraceStep]:
    """The trace's entries as the timeline shows them, each with the gaps found at it."""
    gaps: dict[tuple[str, int], list[str]] = {}
    for gap in traced["gaps"]:
        gaps.setdefault((gap["book"], gap["index"]), []).append(_gap_words(gap))
    names = _Names(svc)
    steps = []
    for step in traced["steps"]:
        data: Mapping[str, Any] = step["data"]
        name = names.of(step["book"])
        refused = step["type"] == "command_refused"
        steps.append(
            TraceStep(
                anchor=f"entry-{step['book']}-{step['index']}",
                book=step["book"],
                book_name=names.books.get(step["book"], step["book"]),
                here=step["book"] == book,
                index=step["index"],
                time=step["time"].replace("T", " ").removesuffix("Z") + " UTC",
                actor=name(step["actor"]),
                title=_title(str(data.get("command", "command")))
                if refused
                else _title(step["type"]),
                refused=refused,
                rule=str(data.get("rule", "")) if refused else "",
                message=str(data.get("message", "")) if refused else "",
                gaps=gaps.get((step["book"], step["index"]), []),
                details=[] if refused else _details(data, name),
                recorded=json.dumps(data, sort_keys=True, ensure_ascii=False),
            )
        )
    return steps


@router.get("/b/{book}/trace/{item}", response_class=HTMLResponse)
def trace(request: Request, page: Page, svc: Svc, item: ItemId) -> HTMLResponse:
    """The item's whole life across books, oldest first, with its gaps listed first."""
    traced = svc.tracer.trace(page.book.id, item)
    steps = trace_steps(svc, page.book.id, traced)
    gaps = [
        (f"entry-{gap['book']}-{gap['index']}", gap["book"], gap["index"], _gap_words(gap))
        for gap in traced["gaps"]
    ]
    context = {
        "item": item_ref(page.state, item),
        "steps": steps,
        "gaps": gaps,
        "flags": traced["flags"],
        "refusals": sum(step.refused for step in steps),
    }
    return render(request, "pages/trace.html", context, page=page)
