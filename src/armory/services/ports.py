"""The ports the service layer needs, as small Protocols that adapters implement."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from armory.ledger.entry import StoredEntry
from armory.ledger.merkle import NodeId


@dataclass(frozen=True)
class BookRecord:
    """A book's identity: its id, kind (production or supplier), display name and creation."""

    id: str
    kind: str
    name: str
    created_at: str


class BookWriter(Protocol):
    """An open, exclusive write transaction on one book. Appends to that book wait for it;
    appends to other books do not."""

    @property
    def size(self) -> int:
        """The number of committed entries in the book when the lock was taken."""
        ...

    def read_nodes(self, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        """The stored hashes of these nodes (absent ones are left out)."""
        ...

    def insert(self, rows: Sequence[StoredEntry]) -> None:
        """Insert entries; they become visible when the transaction commits."""
        ...

    def keep_checkpoint(self, size: int, note: str) -> None:
        """Keep an already signed checkpoint of this book, with this transaction."""
        ...


class LedgerStore(Protocol):
    """Where books live: entries are inserted and selected, never updated or deleted."""

    def write(
        self, book: str, create: BookRecord | None = None
    ) -> AbstractContextManager[BookWriter]:
        """Lock `book` for appending (creating it first when `create` is given) and commit
        durably when the block ends without an exception; roll back otherwise."""
        ...

    def book(self, book: str) -> BookRecord | None: ...

    def books(self) -> list[BookRecord]: ...

    def size(self, book: str) -> int: ...

    def read_nodes(self, book: str, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]: ...

    def entries(self, book: str, start: int, end: int) -> Iterator[StoredEntry]:
        """Entries with start <= index < end, in index order, streamed."""
        ...

    def save_checkpoint(self, book: str, size: int, note: str) -> None:
        """Keep a signed checkpoint in a transaction of its own (a repeat is ignored)."""
        ...

    def checkpoints(self, book: str) -> Iterator[tuple[int, str]]:
        """Every kept checkpoint of the book as (size, signed note), by size."""
        ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...
