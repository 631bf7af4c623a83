"""InMemoryLedgerStore: the ledger store held in memory, for fast tests of the service layer."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from armory.errors import Conflict, NotFound
from armory.ledger.entry import StoredEntry
from armory.ledger.merkle import HASH_SIZE, NodeId, node_home
from armory.services.ports import BookRecord


class InMemoryBookWriter:
    def __init__(self, store: InMemoryLedgerStore, book: str) -> None:
        self.store = store
        self.book = book
        self.pending: list[StoredEntry] = []

    @property
    def size(self) -> int:
        return len(self.store.rows[self.book])

    def read_nodes(self, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        return self.store.read_nodes(self.book, nodes)

    def insert(self, rows: Sequence[StoredEntry]) -> None:
        self.pending.extend(rows)

    def keep_checkpoint(self, size: int, note: str) -> None:
        self.store.save_checkpoint(self.book, size, note)


class InMemoryLedgerStore:
    """Same contract as the SQL store; a lock stands in for the database's book lock."""

    def __init__(self) -> None:
        self.records: dict[str, BookRecord] = {}
        self.rows: dict[str, list[StoredEntry]] = {}
        self.kept: dict[str, dict[int, str]] = {}
        self._lock = threading.RLock()

    @contextmanager
    def write(self, book: str, create: BookRecord | None = None) -> Iterator[InMemoryBookWriter]:
        with self._lock:
            if create is not None:
                if create.id in self.records:
                    raise Conflict(f"book {create.id!r} already exists")
            elif book not in self.records:
                raise NotFound(f"book {book!r} does not exist: `armory book create` makes one")
            if create is not None:
                self.rows.setdefault(book, [])
            writer = InMemoryBookWriter(self, book)
            try:
                yield writer
            except BaseException:
                if create is not None and not self.rows[book]:
                    del self.rows[book]
                raise
            if create is not None:
                self.records[book] = create
            expected = len(self.rows[book])
            for row in writer.pending:
                if row.idx != expected:
                    raise Conflict(f"entry {row.idx} of {book} already exists")
                expected += 1
            self.rows[book].extend(writer.pending)

    def book(self, book: str) -> BookRecord | None:
        return self.records.get(book)

    def books(self) -> list[BookRecord]:
        return [self.records[key] for key in sorted(self.records)]

    def size(self, book: str) -> int:
        return len(self.rows.get(book, []))

    def read_nodes(self, book: str, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        rows = self.rows.get(book, [])
        found: dict[NodeId, bytes] = {}
        for node in nodes:
            index, slot = node_home(node)
            if index < len(rows):
                hashes = rows[index].hashes
                if len(hashes) >= (slot + 1) * HASH_SIZE:
                    found[node] = hashes[slot * HASH_SIZE : (slot + 1) * HASH_SIZE]
        return found

    def entries(self, book: str, start: int, end: int) -> Iterator[StoredEntry]:
        yield from self.rows.get(book, [])[start:end]

    def save_checkpoint(self, book: str, size: int, note: str) -> None:
        self.kept.setdefault(book, {}).setdefault(size, note)

    def checkpoints(self, book: str) -> Iterator[tuple[int, str]]:
        kept = self.kept.get(book, {})
        for size in sorted(kept):
            yield size, kept[size]
