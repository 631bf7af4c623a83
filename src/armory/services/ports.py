"""The ports the service layer needs, as small Protocols that adapters implement."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from armory.ledger.entry import Placed, StoredEntry
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

    def insert(self, rows: Sequence[Placed]) -> None:
        """Insert entries; they become visible when the transaction commits."""
        ...

    def keep_checkpoint(self, size: int, note: str) -> None:
        """Keep an already signed checkpoint of this book, with this transaction."""
        ...

    def entries_since(self, start: int) -> Iterator[StoredEntry]:
        """The book's committed entries from `start` on, read under the lock."""
        ...

    def load_projections(self) -> dict[tuple[str, str], Any]:
        """Every projection document of the book (empty when none was ever kept)."""
        ...

    def save_projections(self, docs: Mapping[tuple[str, str], Any]) -> None:
        """Insert or replace these projection documents, with this transaction."""
        ...

    def clear_projections(self) -> None:
        """Remove every projection document and item index of the book (before a rebuild)."""
        ...

    def index_items(self, pairs: Sequence[tuple[str, int]]) -> None:
        """Note which entries name which items (`trace` reads this), with this transaction."""
        ...


class LedgerStore(Protocol):
    """Where books live: entries are inserted and selected, never updated or deleted."""

    def write(
        self, book: str, create: BookRecord | None = None, bulk: bool = False
    ) -> AbstractContextManager[BookWriter]:
        """Lock `book` for appending (creating it first when `create` is given) and commit
        durably when the block ends without an exception; roll back otherwise. `bulk` says a
        large group commit is coming, so the store may arrange its housekeeping around it.
        The writer may be used, and the block ended, on another thread than the one that
        began it (a group commit inserts and commits on a thread of its own), one thread at a
        time; a block inside another on the same store is not allowed."""
        ...

    def book(self, book: str) -> BookRecord | None: ...

    def books(self) -> list[BookRecord]: ...

    def size(self, book: str) -> int: ...

    def read_nodes(self, book: str, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]: ...

    def entries(self, book: str, start: int, end: int) -> Iterator[StoredEntry]:
        """Entries with start <= index < end, in index order, streamed."""
        ...

    def save_checkpoints(self, book: str, checkpoints: Sequence[tuple[int, str]]) -> None:
        """Keep signed checkpoints (size, note) in a transaction of their own (a repeat is
        ignored)."""
        ...

    def entries_naming(self, book: str, item: str) -> list[int]:
        """The indices of the book's entries that name `item`, in order."""
        ...

    def checkpoints(self, book: str) -> Iterator[tuple[int, str]]:
        """Every kept checkpoint of the book as (size, signed note), by size."""
        ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...


@dataclass(frozen=True)
class Account:
    """A person's account on this server (SPEC §3: an account plus enrolments in books)."""

    id: str
    name: str
    is_admin: bool


class PinResult:
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    UNKNOWN = "unknown"


class LoginResult:
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    UNKNOWN = "unknown"


class Accounts(Protocol):
    """Accounts with their password and PIN hashes; PIN failures lock a PIN for a while."""

    def get(self, person: str) -> Account | None: ...

    def remembered(self, person: str) -> Account | None:
        """The account if this process looked it up lately, without asking the database;
        None when only `get` can say."""
        ...

    def add(self, account: Account, password: str, pin: str) -> None: ...

    def check_pin(self, person: str, pin: str, now: datetime) -> str:
        """One of PinResult's values. A wrong PIN counts toward the lockout."""
        ...

    def check_pins(self, pairs: Sequence[tuple[str, str]], now: datetime) -> list[str]:
        """`check_pin` of each (person, PIN) pair in turn, with the same answers, failures and
        lockouts; the PINs of one command checked at once."""
        ...

    def precheck_pins(self, pairs: Iterable[tuple[str, str]], *, wait: bool = True) -> None:
        """Get ready to check these (person, PIN) pairs soon, e.g. by hashing them in parallel;
        with `wait` False, only start getting ready. It decides nothing: `check_pin` gives the
        same answers, failures and lockouts."""
        ...


class Logins(Protocol):
    """Signing in: passwords (with their own lockout) and expiring bearer tokens."""

    def get(self, person: str) -> Account | None: ...

    def all(self) -> list[Account]: ...

    def add(self, account: Account, password: str, pin: str) -> None: ...

    def check_password(self, person: str, password: str, now: datetime) -> str:
        """One of LoginResult's values. A wrong password counts toward the lockout."""
        ...

    def issue_token(self, person: str, now: datetime, lifetime: float) -> str:
        """A new bearer token for `person`, valid for `lifetime` seconds."""
        ...

    def token_owner(self, token: str, now: datetime) -> Account | None:
        """The account a token belongs to, or None when it is unknown, expired or revoked."""
        ...

    def remembered_owner(self, token: str, now: datetime) -> Account | None:
        """The account of a token this process looked up in the last few seconds, without
        asking the database; None when `token_owner` has to ask it."""
        ...

    def revoke_token(self, token: str) -> None: ...


@dataclass(frozen=True)
class SecurityEvent:
    """One line of the security log: never a password, a PIN or a token."""

    at: str
    kind: str
    detail: str
    account: str | None = None
    book: str | None = None
    source: str | None = None


class SecurityLog(Protocol):
    """Failed logins, wrong PINs and refused requests, kept apart from the ledger."""

    def record(self, event: SecurityEvent) -> None: ...

    def recent(self, limit: int) -> list[SecurityEvent]: ...
