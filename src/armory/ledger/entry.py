"""Ledger entries: the canonical bytes every book is made of (SPEC §6).

An entry is the RFC 8785 canonical JSON of `{"actor", "book", "data", "index", "refs"?, "time",
"type"}`, assembled from the canonical encodings of its parts, which keeps the per-entry work
small when a book takes hundreds of thousands of entries in one batch.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, NamedTuple, cast

import orjson

from armory.errors import InvalidInput
from armory.ledger.canonical import JSONValue, canonical_json, require_canonical
from armory.ledger.merkle import Frontier


def _loads(raw: bytes) -> JSONValue:
    # orjson: strict RFC 8259 from UTF-8 bytes, three times faster than the standard library,
    # for folding a million entries (their canonical form, integers within ±2**53, was checked
    # when they were written and is checked again by `armory verify`).
    try:
        value: JSONValue = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("an entry is not valid JSON") from None
    return value


ENTRY_KEYS = frozenset({"actor", "book", "data", "index", "time", "type"})
OPTIONAL_KEYS = frozenset({"refs"})
TIME_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")
BOOK_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


def format_time(moment: datetime) -> str:
    """UTC with milliseconds, the form every entry's `time` has: 2026-11-24T10:00:00.000Z."""
    if moment.tzinfo is None:
        raise InvalidInput("entry times must carry a time zone")
    # isoformat is C and truncates to milliseconds as strftime did; in UTC it ends "+00:00".
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def check_book_id(book: str) -> str:
    """A book id: 1-64 letters, digits, dot, dash or underscore, starting with a letter or digit."""
    if not BOOK_ID_PATTERN.match(book):
        raise InvalidInput(
            f"book id {book!r} is not valid: use 1-64 letters, digits, '.', '-' or '_', "
            "starting with a letter or digit"
        )
    return book


@dataclass(frozen=True)
class Draft:
    """An entry before the ledger gives it an index: who did what, with which data.

    `data` and `refs` are already canonical JSON (an object and a list of objects, or empty
    for no refs): the ledger stores bytes, and whoever made the event encodes it once.
    `Draft.of` encodes from Python values.
    """

    actor: str
    type: str
    data: bytes
    refs: bytes = b""

    @classmethod
    def of(
        cls,
        actor: str,
        type: str,
        data: Mapping[str, JSONValue],
        refs: Sequence[Mapping[str, JSONValue]] = (),
    ) -> Draft:
        if not isinstance(data, Mapping):
            raise InvalidInput("an entry's data must be a JSON object")
        encoded_refs = canonical_json([dict(ref) for ref in refs]) if refs else b""
        return cls(actor, type, canonical_json(dict(data)), encoded_refs)


class StoredEntry(NamedTuple):
    """One entry as a store keeps it: its canonical bytes and the tree hashes it completes.

    `hashes` is the leaf hash followed by each interior node the entry closes, lowest level
    first, 32 bytes each (see `armory.ledger.merkle.node_home`). A named tuple: a million of
    them are made in a bulk append.
    """

    idx: int  # the entry's index (a named tuple cannot call a field `index`)
    body: bytes
    hashes: bytes


# An entry placed for insertion: (index, body, hashes), StoredEntry's fields in order. A plain
# tuple: a bulk append makes a million, and a named tuple costs four times as much to make.
Placed = tuple[int, bytes, bytes]


class DraftEncoder:
    """Places drafts of one book and one moment at their indices, as canonical entry bytes.

    The member names are fixed ASCII, so their canonical order is fixed (RFC 8785 §3.2.3):
    actor, book, data, index, refs, time, type. The book and time are the same for the whole
    batch and go into the template once; actors and types repeat and are encoded once each.
    """

    # The canonical bytes of the names entries repeat (books, actors, types), for every
    # encoder: a one-entry append makes an encoder of its own. Bounded, like the other caches.
    _strings: ClassVar[dict[str, bytes]] = {}

    def __init__(self, book: str, time: str) -> None:
        self.book = book
        book_json = self._name(book).replace(b"%", b"%%")
        time_json = canonical_json(time).replace(b"%", b"%%")
        self._template = (
            b'{"actor":%s,"book":'
            + book_json
            + b',"data":%s,"index":%d%s,"time":'
            + time_json
            + b',"type":%s}'
        )

    @classmethod
    def _name(cls, value: str) -> bytes:
        encoded = cls._strings.get(value)
        if encoded is None:
            if len(cls._strings) >= 10_000:
                cls._strings.clear()
            encoded = cls._strings[value] = canonical_json(value)
        return encoded

    @classmethod
    def _string(cls, value: str) -> bytes:
        if not value:
            raise InvalidInput("an entry needs a type and an actor")
        return cls._name(value)

    def encode(self, draft: Draft, index: int) -> bytes:
        """The canonical bytes of `draft` as entry `index`."""
        strings = self._strings
        refs = b',"refs":' + draft.refs if draft.refs else b""
        return self._template % (
            strings.get(draft.actor) or self._string(draft.actor),
            draft.data,
            index,
            refs,
            strings.get(draft.type) or self._string(draft.type),
        )

    def place(self, drafts: Sequence[Draft], frontier: Frontier) -> list[Placed]:
        """Give drafts the next indices of the tree `frontier` ends, growing it as they go."""
        # Whole-list passes rather than one loop with calls: a bulk append runs this a million
        # times, and comprehensions are what Python runs fastest.
        first = frontier.size
        indices = range(first, first + len(drafts))
        bodies = [self.encode(draft, index) for draft, index in zip(drafts, indices, strict=True)]
        sha256 = hashlib.sha256
        completed = frontier.extend([sha256(b"\x00" + body).digest() for body in bodies])
        return list(zip(indices, bodies, completed, strict=True))


@dataclass(frozen=True)
class Entry:
    """An entry as read back from a ledger, with the bytes it was hashed from."""

    book: str
    index: int
    time: str
    actor: str
    type: str
    data: Mapping[str, JSONValue]
    refs: tuple[Mapping[str, JSONValue], ...]
    raw: bytes


def decode_entry(raw: bytes, canonical: bool = True) -> Entry:
    """Parse an entry's bytes; raise InvalidInput unless they are a well-formed entry, and (with
    `canonical`, the default) unless they are its canonical form. Folding a book that was
    verified skips that second check: it parses each entry again."""
    value = require_canonical(raw) if canonical else _loads(raw)
    if not isinstance(value, dict):
        raise InvalidInput("an entry must be a JSON object")
    keys = set(value)
    if not keys >= ENTRY_KEYS or keys - ENTRY_KEYS - OPTIONAL_KEYS:
        raise InvalidInput(
            "an entry must have exactly the members actor, book, data, index, time, type "
            "and optionally refs"
        )
    index, data, refs = value["index"], value["data"], value.get("refs", [])
    book, time, actor, kind = value["book"], value["time"], value["actor"], value["type"]
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise InvalidInput("an entry's index must be a non-negative integer")
    if not isinstance(data, dict):
        raise InvalidInput("an entry's data must be a JSON object")
    if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
        raise InvalidInput("an entry's refs must be a list of objects")
    if not (isinstance(book, str) and isinstance(actor, str) and isinstance(kind, str)):
        raise InvalidInput("an entry's book, actor and type must be strings")
    if not isinstance(time, str) or not TIME_PATTERN.match(time):
        raise InvalidInput("an entry's time must look like 2026-11-24T10:00:00.000Z")
    return Entry(
        book, index, time, actor, kind, data, tuple(cast(list[dict[str, JSONValue]], refs)), raw
    )
