"""InMemoryLedgerStore: the ledger store held in memory, for fast tests of the service layer."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from armory.errors import Conflict, NotFound
from armory.ledger.entry import Placed, StoredEntry
from armory.ledger.merkle import HASH_SIZE, NodeId, node_home
from armory.services.ports import Account, BookRecord, PinResult


class InMemoryBookWriter:
    def __init__(self, store: InMemoryLedgerStore, book: str) -> None:
        self.store = store
        self.book = book
        self.pending: list[StoredEntry] = []
        self.pending_docs: dict[tuple[str, str], Any] = {}
        self.cleared = False
        self.pending_index: list[tuple[str, int]] = []

    @property
    def size(self) -> int:
        return len(self.store.rows[self.book])

    def read_nodes(self, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        return self.store.read_nodes(self.book, nodes)

    def insert(self, rows: Sequence[Placed]) -> None:
        self.pending.extend(map(StoredEntry._make, rows))

    def keep_checkpoint(self, size: int, note: str) -> None:
        self.store.save_checkpoints(self.book, [(size, note)])

    def entries_since(self, start: int) -> Iterator[StoredEntry]:
        yield from self.store.rows[self.book][start:]

    def load_projections(self) -> dict[tuple[str, str], Any]:
        return dict(self.store.projections.get(self.book, {}))

    def save_projections(self, docs: Mapping[tuple[str, str], Any]) -> None:
        self.pending_docs.update(docs)

    def clear_projections(self) -> None:
        self.cleared = True

    def index_items(self, pairs: Sequence[tuple[str, int]]) -> None:
        self.pending_index.extend(pairs)


class InMemoryLedgerStore:
    """Same contract as the SQL store; a lock stands in for the database's book lock."""

    def __init__(self) -> None:
        self.records: dict[str, BookRecord] = {}
        self.rows: dict[str, list[StoredEntry]] = {}
        self.kept: dict[str, dict[int, str]] = {}
        self.projections: dict[str, dict[tuple[str, str], Any]] = {}
        self.index: dict[str, dict[str, list[int]]] = {}
        # Not reentrant, as the database's lock is not, and releasable by another thread
        # than the one that took it: a group commit ends its transactions on its own thread.
        self._lock = threading.Lock()

    @contextmanager
    def write(
        self, book: str, create: BookRecord | None = None, bulk: bool = False
    ) -> Iterator[InMemoryBookWriter]:
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
            docs = {} if writer.cleared else self.projections.get(book, {})
            self.projections[book] = {**docs, **writer.pending_docs}
            index = {} if writer.cleared else self.index.get(book, {})
            for item, idx in writer.pending_index:
                index.setdefault(item, [])
                if idx not in index[item]:
                    index[item].append(idx)
            self.index[book] = index

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

    def entries_naming(self, book: str, item: str) -> list[int]:
        return sorted(self.index.get(book, {}).get(item, []))

    def save_checkpoints(self, book: str, checkpoints: Sequence[tuple[int, str]]) -> None:
        for size, note in checkpoints:
            self.kept.setdefault(book, {}).setdefault(size, note)

    def checkpoints(self, book: str) -> Iterator[tuple[int, str]]:
        kept = self.kept.get(book, {})
        for size in sorted(kept):
            yield size, kept[size]


class InMemoryAccounts:
    """Accounts held in memory with PINs in the clear: a fake of the Accounts port for tests."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.pins: dict[str, str] = {}
        self.failures: dict[str, int] = {}

    def get(self, person: str) -> Account | None:
        return self.accounts.get(person)

    def remembered(self, person: str) -> Account | None:
        return self.accounts.get(person)

    def add(self, account: Account, password: str, pin: str) -> None:
        if account.id in self.accounts:
            raise Conflict(f"account {account.id!r} already exists")
        self.accounts[account.id] = account
        self.pins[account.id] = pin

    def check_pin(self, person: str, pin: str, now: datetime) -> str:
        if person not in self.pins:
            return PinResult.UNKNOWN
        if self.failures.get(person, 0) >= 5:
            return PinResult.LOCKED
        if self.pins[person] != pin:
            self.failures[person] = self.failures.get(person, 0) + 1
            return PinResult.WRONG
        self.failures[person] = 0
        return PinResult.OK

    def check_pins(self, pairs: Sequence[tuple[str, str]], now: datetime) -> list[str]:
        return [self.check_pin(person, pin, now) for person, pin in pairs]

    def precheck_pins(self, pairs: Iterable[tuple[str, str]], *, wait: bool = True) -> None:
        """Nothing to get ready: comparing PINs in memory costs nothing."""
