"""The ledger service: books, appends, checkpoints, proofs, evidence bundles, verification.

Every append runs as one transaction on one book: lock the book, place the entries at the next
indices, persist them with the tree hashes they complete, commit durably. Only then is the
checkpoint signed (SPEC §6: a checkpoint is only ever signed over committed entries). Ed25519
signatures are deterministic, so the checkpoint of a given size is the same bytes whenever it is
signed; the copies the store keeps are a convenience and may be lost without losing anything.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import BinaryIO, TypeVar

from armory.errors import InvalidInput, NotFound, VerificationFailed
from armory.ledger import merkle
from armory.ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from armory.ledger.entry import (
    Draft,
    DraftEncoder,
    Entry,
    Placed,
    StoredEntry,
    check_book_id,
    decode_entry,
    format_time,
)
from armory.ledger.merkle import HASH_SIZE, Frontier
from armory.ledger.note import SignerKey, VerifierKey
from armory.services.ports import BookRecord, BookWriter, Clock, LedgerStore

T = TypeVar("T")

BOOK_KINDS = ("production", "supplier")
COMMIT_EVERY = 100_000  # entries per transaction in a group commit
INSERT_BATCH = 5000  # entries handed to the database at a time within one transaction
FOLD_ENTRIES = 1000  # another process's entries a turn folds onto the tree's edge, at most
PENDING_CHECKPOINTS = 64  # signed but not yet kept, per book, before a read keeps them at once


@dataclass(frozen=True)
class Appended:
    """What an append committed: the index and type of each entry, and the new checkpoint."""

    entries: tuple[tuple[int, str], ...]
    checkpoint: SignedCheckpoint


@dataclass(frozen=True)
class Imported:
    """What a group commit appended: `count` entries from index `first`, and the checkpoint."""

    first: int
    count: int
    checkpoint: SignedCheckpoint


@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class BookReport:
    """The outcome of verifying a book in the database: everything held."""

    book: str
    size: int
    root: bytes
    checkpoints_checked: int


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause Python's cycle collector during a bulk append, which makes millions of objects
    and no cycles: the collector's repeated passes over them cost a fifth of the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _make_ahead(
    encoder: DraftEncoder,
    batches: list[list[Draft]],
    edge: Frontier | None,
    committing: Future[None] | None,
) -> list[list[Placed]]:
    """Batches made from `edge` for as long as the previous transaction is committing."""
    made: list[list[Placed]] = []
    while edge is not None and committing is not None and not committing.done():
        if len(made) == len(batches):
            break
        made.append(encoder.place(batches[len(made)], edge))
    return made


def _insert(
    database: ThreadPoolExecutor,
    writer: BookWriter,
    encoder: DraftEncoder,
    batches: list[list[Draft]],
    made: list[list[Placed]],
    edge: Frontier,
) -> None:
    """Insert every batch through the database's thread, making each while the one before it
    is inserted; the first `made` batches are made already."""
    in_flight: Future[None] | None = None
    try:
        for number, batch in enumerate(batches):
            rows = made[number] if number < len(made) else encoder.place(batch, edge)
            if in_flight is not None:
                in_flight.result()
            in_flight = database.submit(writer.insert, rows)
    finally:
        # Never roll back under an insert that is still running.
        if in_flight is not None:
            wait([in_flight])
    if in_flight is not None:
        in_flight.result()


class _Commits:
    """A group commit's transaction committing on the database's thread, and what to do once
    it has: at most one at a time."""

    def __init__(self) -> None:
        self.running: Future[None] | None = None
        self._then: Callable[[], None] | None = None

    def start(self, committing: Future[None], then: Callable[[], None]) -> None:
        self.running, self._then = committing, then

    def finish(self) -> None:
        """Wait for the commit; raise if it failed, else do what follows it."""
        committing, then = self.running, self._then
        self.running = self._then = None
        if committing is not None and then is not None:
            committing.result()
            then()

    def finish_quietly(self) -> None:
        """On the way out after a failure: wait, and follow a commit that succeeded."""
        if self.running is not None:
            wait([self.running])
            if self.running.exception() is None:
                self.finish()


class LedgerService:
    """Use cases of the tamper-evident ledger, over a store and the node's signing key."""

    def __init__(self, store: LedgerStore, signer: SignerKey, clock: Clock, node_name: str) -> None:
        self.store = store
        self.signer = signer
        self.verifier: VerifierKey = signer.verifier()
        self.clock = clock
        self.node_name = node_name
        self._frontiers: dict[str, Frontier] = {}
        # The checkpoints of each book signed but not yet kept in the store: the next append's
        # own transaction keeps them (no extra commit per command), or `flush`, or a read that
        # finds PENDING_CHECKPOINTS of them.
        self._unsaved: dict[str, tuple[tuple[int, str], ...]] = {}
        # The newest checkpoint this process signed for each book: asked for again at the same
        # size (a reader polling a quiet book), it is answered without signing or storing again.
        self._signed: dict[str, SignedCheckpoint] = {}
        # The largest size of each book this process has seen committed. A book only grows, so
        # a proof asked at a size no larger needs no query to know the size is real.
        self._seen_sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    def origin(self, book: str) -> str:
        """The checkpoint origin of a book: `<node name>/<book id>` (SPEC §6)."""
        return f"{self.node_name}/{book}"

    # Books

    def create_book(self, book: str, kind: str, name: str, actor: str) -> Appended:
        """Create a book; its first entry records the creation."""
        check_book_id(book)
        if kind not in BOOK_KINDS:
            raise InvalidInput(f"book kind {kind!r} is not known: use production or supplier")
        if not name.strip():
            raise InvalidInput("a book needs a name")
        now = format_time(self.clock())
        record = BookRecord(book, kind, name, now)
        draft = Draft.of(
            actor, "book_created", {"kind": kind, "name": name, "node": self.node_name}
        )
        return self._append(book, [draft], create=record)

    def book(self, book: str) -> BookRecord:
        record = self.store.book(book)
        if record is None:
            raise NotFound(f"book {book!r} does not exist: `armory book create` makes one")
        return record

    def books(self) -> list[BookRecord]:
        return self.store.books()

    # Appends

    def append(self, book: str, drafts: Sequence[Draft]) -> Appended:
        """Append entries to a book in one durable transaction."""
        if not drafts:
            raise InvalidInput("nothing to append")
        return self._append(book, drafts)

    def append_many(
        self,
        book: str,
        drafts: Iterable[Draft],
        commit_every: int = COMMIT_EVERY,
        progress: Callable[[int], None] | None = None,
    ) -> Imported:
        """Group commit for imports and replays: one transaction per `commit_every` entries.

        One thread encodes and hashes, another inserts and commits: the database inserts one
        batch while the next is made, and a transaction commits while the next one's first
        batches are made. Those are made on the word of the edge the committing transaction
        leaves; if the book has grown by the time the next transaction holds its lock (another
        process appended between the two), they are made again from the stored edge.
        """
        self.book(book)
        stream = iter(drafts)
        first: int | None = None
        edge: Frontier | None = None  # the right edge the last transaction leaves
        commits = _Commits()
        with (
            _without_cyclic_gc(),
            ThreadPoolExecutor(1, thread_name_prefix="armory-insert") as database,
        ):
            try:
                while chunk := list(islice(stream, commit_every)):
                    encoder = DraftEncoder(book, format_time(self.clock()))
                    batches = [
                        chunk[at : at + INSERT_BATCH] for at in range(0, len(chunk), INSERT_BATCH)
                    ]
                    guess = edge.copy() if edge is not None else None
                    made = _make_ahead(encoder, batches, guess, commits.running)
                    commits.finish()
                    with ExitStack() as transaction:
                        writer = transaction.enter_context(self.store.write(book, bulk=True))
                        if guess is None or edge is None or writer.size != edge.size:
                            guess, made = self._frontier(book, writer), []
                        if first is None:
                            first = writer.size
                        unsaved = self._unsaved.get(book, ())
                        for size, note in unsaved:
                            writer.keep_checkpoint(size, note)
                        _insert(database, writer, encoder, batches, made, guess)
                        # Inserted: the commit goes to the database's thread with the transaction.
                        committing = database.submit(transaction.pop_all().close)
                    edge = guess
                    commits.start(
                        committing,
                        partial(
                            self._after_commit, book, guess.copy(), unsaved, len(chunk), progress
                        ),
                    )
                commits.finish()
            except BaseException:
                commits.finish_quietly()  # a transaction that did commit is still taken note of
                raise
        if edge is None or first is None:
            raise InvalidInput("nothing to append")
        return Imported(first, edge.size - first, self._sign(book, edge.size))

    def _after_commit(
        self,
        book: str,
        frontier: Frontier,
        kept: tuple[tuple[int, str], ...],
        count: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        self._committed(book, frontier, kept)
        if progress:
            progress(count)

    def transact(
        self, book: str, work: Callable[[BookWriter, int, str], Sequence[Draft]]
    ) -> Appended | None:
        """Run `work` inside the book's append transaction and append the drafts it returns.

        `work` gets the locked book's writer, its size and the time the entries will carry; it
        may read the book and write projections through the writer, all in one transaction.
        Whatever it raises rolls everything back. None when it returned no drafts (what else
        it wrote is committed).
        """
        appended = self._append(book, work)
        return appended if appended.entries else None

    def hold(self, book: str, work: Callable[[BookWriter], T]) -> T:
        """Run `work` under the book's append lock, appending nothing, and commit what it wrote
        besides entries (projections)."""
        with self.store.write(book) as writer:
            return work(writer)

    def _append(
        self,
        book: str,
        drafts: Sequence[Draft] | Callable[[BookWriter, int, str], Sequence[Draft]],
        create: BookRecord | None = None,
    ) -> Appended:
        time = format_time(self.clock())
        encoder = DraftEncoder(book, time)
        unsaved = self._unsaved.get(book, ())
        with self.store.write(book, create=create) as writer:
            if callable(drafts):
                drafts = drafts(writer, writer.size, time)
                if not drafts:
                    return Appended((), SignedCheckpoint(writer.size, b"", ""))
            frontier = self._frontier(book, writer)
            for size, note in unsaved:
                writer.keep_checkpoint(size, note)
            rows = encoder.place(drafts, frontier)
            writer.insert(rows)
        self._committed(book, frontier, unsaved)
        entries = tuple((row[0], draft.type) for row, draft in zip(rows, drafts, strict=True))
        root = frontier.root()
        return Appended(entries, self._sign(book, frontier.size, root, keep_now=False))

    def _committed(self, book: str, frontier: Frontier, kept: tuple[tuple[int, str], ...]) -> None:
        """After a commit: remember the book's new right edge; the kept checkpoints are stored."""
        with self._lock:
            self._frontiers[book] = frontier
            if frontier.size > self._seen_sizes.get(book, 0):
                self._seen_sizes[book] = frontier.size
            if kept:
                left = tuple(c for c in self._unsaved.get(book, ()) if c not in kept)
                if left:
                    self._unsaved[book] = left
                else:
                    self._unsaved.pop(book, None)

    def _frontier(self, book: str, writer: BookWriter) -> Frontier:
        """The book's right edge at the locked writer's size: from memory when it is current;
        grown by the leaf hashes of the entries another process appended since, when they are
        few (the turn has read them already, to bring the book's state up to date); else read
        from the store."""
        size = writer.size
        with self._lock:
            cached = self._frontiers.get(book)
        if cached is not None and cached.size == size:
            return cached.copy()
        if cached is not None and 0 < size - cached.size <= FOLD_ENTRIES:
            leaves = [entry.hashes[:HASH_SIZE] for entry in writer.entries_since(cached.size)]
            if len(leaves) == size - cached.size and all(len(h) == HASH_SIZE for h in leaves):
                grown = cached.copy()
                grown.extend(leaves)
                return grown
        return Frontier.load(size, writer.read_nodes)

    # Checkpoints and proofs

    def _sign(
        self, book: str, size: int, root: bytes | None = None, keep_now: bool = True
    ) -> SignedCheckpoint:
        """Sign the checkpoint of committed size `size`, and keep it now or later (with this
        process's next append to the book, at `flush`, or with PENDING_CHECKPOINTS others)."""
        if root is None:
            root = self.root(book, size)
        note = sign_checkpoint(Checkpoint(self.origin(book), size, root), self.signer)
        if keep_now:
            self.store.save_checkpoints(book, [(size, note)])
        else:
            with self._lock:
                pending = self._unsaved.get(book, ())
                if all(kept != size for kept, _ in pending):
                    pending = self._unsaved[book] = (*pending, (size, note))
                full = len(pending) >= PENDING_CHECKPOINTS
                if full:
                    self._unsaved.pop(book)
            if full:
                self.store.save_checkpoints(book, pending)
        signed = SignedCheckpoint(size, root, note)
        with self._lock:
            newest = self._signed.get(book)
            if newest is None or newest.size < size:
                self._signed[book] = signed
        return signed

    def flush(self) -> None:
        """Keep every signed checkpoint not yet kept (on shutdown)."""
        with self._lock:
            pending = list(self._unsaved.items())
            self._unsaved.clear()
        for book, checkpoints in pending:
            self.store.save_checkpoints(book, checkpoints)

    def checkpoint(self, book: str) -> SignedCheckpoint:
        """The signed checkpoint of everything committed in the book now."""
        self.book(book)
        size = self.store.size(book)
        with self._lock:
            signed = self._signed.get(book)
        if signed is not None and signed.size == size:
            return signed  # kept already, or kept with the next append like every append's own
        # A size this process has not signed, mostly because another process appended: the
        # appender keeps this very checkpoint too (Ed25519 signatures are deterministic), so a
        # read does not wait for a write of its own; it is kept later.
        return self._sign(book, size, keep_now=False)

    def root(self, book: str, size: int) -> bytes:
        return merkle.root_at(size, lambda nodes: self.store.read_nodes(book, nodes))

    def inclusion_proof(self, book: str, index: int, size: int | None = None) -> list[bytes]:
        size = self._proof_size(book, size)
        if not 0 <= index < size:
            raise InvalidInput(f"entry {index} is not in the first {size} entries of {book}")
        return merkle.inclusion_proof(index, size, lambda n: self.store.read_nodes(book, n))

    def consistency_proof(self, book: str, old: int, new: int | None = None) -> list[bytes]:
        new = self._proof_size(book, new)
        if not 0 < old <= new:
            raise InvalidInput(f"cannot prove consistency from size {old} to size {new}")
        return merkle.consistency_proof(old, new, lambda n: self.store.read_nodes(book, n))

    def _proof_size(self, book: str, size: int | None) -> int:
        if size is not None and 0 < size <= self._seen_sizes.get(book, 0):
            return size
        current = self.store.size(book)  # a book has at least its creation entry
        if current == 0:
            self.book(book)  # NotFound, naming the book
        if current > self._seen_sizes.get(book, 0):
            self._seen_sizes[book] = current
        if size is None:
            return current
        if not 0 < size <= current:
            raise InvalidInput(f"book {book} has {current} entries; cannot prove at size {size}")
        return size

    # Reading

    def entries(
        self, book: str, start: int = 0, end: int | None = None, canonical: bool = True
    ) -> Iterator[Entry]:
        """The book's entries, decoded; `canonical=False` skips the canonical-form check (for
        folding: `verify --book` is where the form is checked)."""
        self.book(book)
        stop = self.store.size(book) if end is None else end
        for row in self.store.entries(book, start, stop):
            yield decode_entry(row.body, canonical)

    # Evidence bundles

    def export(self, book: str, out: BinaryIO, actor: str, case: str | None = None) -> Appended:
        """Record the export, then write the bundle of every entry up to and including it."""
        from armory.ledger import bundle  # noqa: PLC0415 -- loaded to write one: saves every start

        data: dict[str, str | None] = {"case": case, "format": "armory-bundle-1"}
        recorded = self.append(book, [Draft.of(actor, "bundle_exported", data)])
        size = recorded.checkpoint.size
        rows = self.store.entries(book, 0, size)
        bundle.write_bundle(
            out,
            checkpoint_note=recorded.checkpoint.note,
            vkey=self.verifier.to_text(),
            rows=((row.body, row.hashes[:HASH_SIZE]) for row in rows),
            readme=bundle.readme(self.origin(book), size, book, format_time(self.clock())),
        )
        return recorded

    # Verification of the live database

    def verify_book(self, book: str) -> BookReport:
        """Recompute the book's tree from its entries and check every stored hash and checkpoint.

        Raises VerificationFailed naming the first entry that does not match.
        """
        self.book(book)
        size = self.store.size(book)
        kept = iter(self._kept_checkpoints(book))
        pending = next(kept, None)
        checked = 0
        frontier = Frontier()
        expected = 0
        for row in self.store.entries(book, 0, size):
            if row.idx != expected:
                raise VerificationFailed(
                    f"entry {expected} of book {book} is missing: the ledger was cut", expected
                )
            self._check_row(book, row, frontier)
            expected += 1
            while pending is not None and pending[0] == frontier.size:
                self._check_kept_checkpoint(book, pending, frontier.root())
                checked += 1
                pending = next(kept, None)
        if expected != size:
            raise VerificationFailed(f"entry {expected} of book {book} is missing", expected)
        if pending is not None:
            raise VerificationFailed(
                f"a checkpoint of book {book} was signed at size {pending[0]} but the book has "
                f"only {size} entries: entries were removed",
                size,
            )
        return BookReport(book, size, frontier.root(), checked)

    def _check_row(self, book: str, row: StoredEntry, frontier: Frontier) -> None:
        index = row.idx
        try:
            entry = decode_entry(row.body)
        except InvalidInput as problem:
            raise VerificationFailed(
                f"entry {index} of book {book} is damaged: {problem}", index
            ) from None
        if entry.index != index or entry.book != book:
            raise VerificationFailed(
                f"entry {index} of book {book} says it is entry {entry.index} of book "
                f"{entry.book}: rows were moved or inserted",
                index,
            )
        completed = frontier.append(merkle.leaf_hash(row.body))
        if completed != row.hashes:
            raise VerificationFailed(
                f"entry {index} of book {book} does not match its recorded hash: it was edited",
                index,
            )

    def _kept_checkpoints(self, book: str) -> Iterator[tuple[int, Checkpoint]]:
        for size, note in self.store.checkpoints(book):
            try:
                checkpoint = open_checkpoint(note, self.verifier, origin=self.origin(book))
            except (InvalidInput, VerificationFailed) as problem:
                raise VerificationFailed(
                    f"the kept checkpoint at size {size} of book {book} is not valid: {problem}",
                    max(size - 1, 0),
                ) from None
            if checkpoint.size != size:
                raise VerificationFailed(
                    f"the kept checkpoint filed at size {size} of book {book} says size "
                    f"{checkpoint.size}",
                    max(size - 1, 0),
                )
            yield size, checkpoint

    def _check_kept_checkpoint(self, book: str, kept: tuple[int, Checkpoint], root: bytes) -> None:
        size, checkpoint = kept
        if checkpoint.root_hash != root:
            raise VerificationFailed(
                f"book {book} no longer matches the checkpoint it signed at size {size}: its "
                f"first {size} entries were rewritten",
                size - 1,
            )
