"""SqlLedgerStore: books and entries in SQLite or PostgreSQL.

Reads go through SQLAlchemy Core. The append path, which runs once per command and a million
times in a bulk import, talks to the pooled DBAPI connection directly with prepared SQL text:
it is where the milliseconds are (docs/benchmarks.md), and it is three statements long.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, nullcontext
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any, cast

import orjson
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from armory.adapters.sql.schema import AUTOCHECKPOINT_PAGES, one_line, read_rows
from armory.adapters.sql.tables import (
    INDEX_BITS,
    INDEX_MASK,
    books,
    checkpoints,
    item_entries,
)
from armory.adapters.sql.turns import WriterTurns
from armory.adapters.sql.wal import WalCheckpointer
from armory.errors import Conflict, InvalidInput, NotFound, StorageError
from armory.ledger.entry import Placed, StoredEntry
from armory.ledger.merkle import HASH_SIZE, NodeId, node_home
from armory.services.ports import BookRecord

READ_CHUNK = 5000
NODE_CACHE_SIZE = 1_000_000  # tree nodes kept in memory (about 100 MB at most)
ROW_BYTES_ESTIMATE = 512  # what a stored entry adds to the log, give or take: for checkpointing
# Rows per INSERT on SQLite, at most: a whole batch of a bulk append in one statement, so the
# inserting thread takes Python's lock once per batch rather than once per hundred rows
# (docs/architecture.md). Capped by the library's limit on bound values, three per row.
SQLITE_ROWS_PER_INSERT = 5000
COPY_THRESHOLD = 200  # rows from which PostgreSQL gets them by COPY rather than INSERT
INDEX_IN_ORDER_FROM = 1000  # item index pairs from which they are sorted before inserting


class _Sql:
    """The append path's statements, in the driver's own parameter style."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        self.mark = "?" if self.sqlite else "%s"

        def style(sql: str) -> str:
            return sql if self.sqlite else sql.replace("?", "%s")

        self.begin = "BEGIN IMMEDIATE" if self.sqlite else None
        # PostgreSQL: the book's row lock serialises its appenders across processes and lets
        # other books append in parallel. SQLite: BEGIN IMMEDIATE already holds the write lock.
        self.lock_book = (
            "SELECT no FROM books WHERE id = ?"
            if self.sqlite
            else "SELECT no FROM books WHERE id = %s FOR UPDATE"
        )
        self.last_pos = style("SELECT max(pos) FROM entries WHERE pos >= ? AND pos < ?")
        self.insert_book = style(
            "INSERT INTO books (id, kind, name, created_at) VALUES (?, ?, ?, ?)"
        )
        self.copy_entries = "COPY entries (pos, body, hashes) FROM STDIN"
        self.book_record = style("SELECT id, kind, name, created_at, no FROM books WHERE id = ?")
        # The same and the book's last key, in one statement: a process's first look at a book.
        self.book_and_last = style(
            "SELECT b.id, b.kind, b.name, b.created_at, b.no, "
            "(SELECT max(pos) FROM entries WHERE pos >= b.no * ? AND pos < (b.no + 1) * ?) "
            "FROM books b WHERE b.id = ?"
        )
        self.nodes_prefix = "SELECT pos, hashes FROM entries WHERE pos IN ("
        self.entries_since = style(
            "SELECT pos, body, hashes FROM entries WHERE pos >= ? AND pos < ? ORDER BY pos"
        )
        self.load_projections = style("SELECT kind, key, doc FROM projections WHERE book = ?")
        self.save_projection = style(
            "INSERT INTO projections (book, kind, key, doc) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (book, kind, key) DO UPDATE SET doc = excluded.doc"
        )
        self.clear_projections = style("DELETE FROM projections WHERE book = ?")
        self.index_items = style(
            "INSERT INTO item_entries (book, item, idx) VALUES (?, ?, ?) "
            "ON CONFLICT (book, item, idx) DO NOTHING"
        )
        self.clear_index = style("DELETE FROM item_entries WHERE book = ?")
        self.keep_checkpoint = style(
            "INSERT INTO checkpoints (pos, note) VALUES (?, ?) ON CONFLICT (pos) DO NOTHING"
        )

    def insert_entries(self, rows: int = 1) -> str:
        """Insert `rows` stored entries, each bound as its key, body and hashes."""
        if self.sqlite:
            return _sqlite_insert(rows)
        return "INSERT INTO entries (pos, body, hashes) VALUES (%s, %s, %s)"


# Statements of many rows say OR FAIL. With SQLite's default (ABORT) a statement that fails
# halfway undoes its own rows, so for every statement of many rows SQLite first copies each page
# it will change into a statement journal, a temporary file once past 64 KiB: about as many
# writes again as the log's. With FAIL the rows before the failure stay, and the store rolls
# the whole transaction back on any failure anyway (`_abandon`), so no page needs the copy.
# Measured in a million-entry bulk append: a third fewer writes (docs/architecture.md).


# Only placeholders: SQLite compares each constant of a statement with every one before it while
# preparing it, so a key written as `base + ?` made preparing a 5,000-row statement take 0.2 s
# instead of 6 ms (docs/architecture.md). Each connection prepares each row count once.
@lru_cache(maxsize=64)
def _sqlite_insert(rows: int) -> str:
    values = ", ".join(["(?, ?, ?)"] * rows)
    return f"INSERT OR FAIL INTO entries (pos, body, hashes) VALUES {values}"  # noqa: S608 -- placeholders only


@lru_cache(maxsize=8)
def _sqlite_index_insert(rows: int) -> str:
    values = ", ".join(["(?, ?, ?)"] * rows)
    return (
        f"INSERT OR FAIL INTO item_entries (book, item, idx) VALUES {values} "  # noqa: S608 -- placeholders only
        "ON CONFLICT (book, item, idx) DO NOTHING"
    )


def _sqlite_values(rows: Sequence[Placed], base: int) -> list[Any]:
    """The rows' values flattened for one INSERT: each index as its key (`base` + index), and
    the byte strings bound as bytearrays.

    Python's sqlite3 binds an int, float, str or bytearray directly but looks for an adapter
    for every other type, bytes included: a registry lookup and two attribute lookups per value,
    with Python's lock held. A copy into a bytearray costs less than that search, and the
    inserting thread holds the lock for half as long (docs/architecture.md).
    """
    values: list[Any] = list(chain.from_iterable(rows))
    values[0::3] = map(base.__add__, values[0::3])
    values[1::3] = map(bytearray, values[1::3])
    values[2::3] = map(bytearray, values[2::3])
    return values


class SqlBookWriter:
    """The write transaction on one book, holding that book's lock."""

    def __init__(
        self,
        store: SqlLedgerStore,
        cursor: Any,
        book: str,
        base: int,
        last: Any,
        pipelined: bool = False,
        rows_per_insert: int = SQLITE_ROWS_PER_INSERT,
    ) -> None:
        self._store = store
        self._pipelined = pipelined  # in a psycopg pipeline, which cannot carry COPY
        self._rows_per_insert = rows_per_insert
        self._cursor = cursor
        self.book = book
        self._base = base
        self._size = 0 if last is None else int(last) - base + 1
        self.written = 0
        self._since: tuple[int, list[StoredEntry]] | None = None  # entries_since's last answer

    @property
    def size(self) -> int:
        return self._size

    @property
    def key_base(self) -> int:
        return self._base

    def read_nodes(self, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        homes, wanted = _homes(nodes, self._base)
        if not wanted:
            return {}
        mark = self._store.sql.mark
        rows = self._read(
            f"SELECT pos, hashes FROM entries WHERE pos IN ({', '.join([mark] * len(wanted))})",  # noqa: S608 -- only placeholders are interpolated
            wanted,
        )
        stored = {int(pos) - self._base: bytes(h) for pos, h in rows}
        return _slot_hashes(homes, stored)

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows of a read inside the transaction. In a psycopg pipeline the read takes a
        cursor of its own: the answer to a write sent before it on the writer's cursor may
        come in while the read is being sent, and would then stand in for the read's rows."""
        if not self._pipelined:
            self._cursor.execute(sql, params)
            return list(self._cursor.fetchall())
        cursor = self._cursor.connection.cursor()
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def insert(self, rows: Sequence[Placed]) -> None:
        if not rows:
            return
        self._since = None
        self.written += len(rows) * ROW_BYTES_ESTIMATE
        sql = self._store.sql
        if sql.sqlite:
            # Many rows per statement: SQLite inserts them all in one step, with the GIL
            # released, so the next batch is encoded and hashed meanwhile (docs/benchmarks.md).
            execute = self._cursor.execute
            step = self._rows_per_insert
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                execute(sql.insert_entries(len(chunk)), _sqlite_values(chunk, self._base))
            return
        base = self._base
        if len(rows) >= COPY_THRESHOLD and not self._pipelined:
            with self._cursor.copy(sql.copy_entries) as copy:
                for idx, body, hashes in rows:
                    copy.write_row((base + idx, body, hashes))
            return
        self._cursor.executemany(
            sql.insert_entries(), [(base + idx, body, hashes) for idx, body, hashes in rows]
        )

    def keep_checkpoint(self, size: int, note: str) -> None:
        self._cursor.execute(self._store.sql.keep_checkpoint, (self.key_base + size, note))

    def entries_since(self, start: int) -> Iterator[StoredEntry]:
        # Asked twice in a turn that follows another process's (the book's state, then the
        # tree's right edge), for the same entries: read once. They cannot change under the lock.
        if self._since is None or self._since[0] != start:
            base = self._base
            rows = self._read(self._store.sql.entries_since, (base + start, base + self._size))
            found = [
                StoredEntry(int(pos) - base, bytes(body), bytes(hashes))
                for pos, body, hashes in rows
            ]
            self._since = (start, found)
        yield from self._since[1]

    def load_projections(self) -> dict[tuple[str, str], Any]:
        rows = self._read(self._store.sql.load_projections, (self.book,))
        return {(kind, key): orjson.loads(doc) for kind, key, doc in rows}

    def save_projections(self, docs: Mapping[tuple[str, str], Any]) -> None:
        if docs:
            self._cursor.executemany(
                self._store.sql.save_projection,
                [(self.book, kind, key, _dump(doc)) for (kind, key), doc in docs.items()],
            )

    def clear_projections(self) -> None:
        self._cursor.execute(self._store.sql.clear_projections, (self.book,))
        self._cursor.execute(self._store.sql.clear_index, (self.book,))

    def index_items(self, pairs: Sequence[tuple[str, int]]) -> None:
        if not pairs:
            return
        sql = self._store.sql
        if len(pairs) < INDEX_IN_ORDER_FROM:
            self._cursor.executemany(
                sql.index_items, [(self.book, item, idx) for item, idx in pairs]
            )
            return
        # Many pairs (a rebuild's whole index): inserted in key order, each lands next to the
        # last in the index's B-tree instead of anywhere in it; on SQLite many rows a statement.
        # Two million pairs: 12 s as they came, 3 s so (docs/architecture.md).
        ordered = sorted(pairs, key=itemgetter(0))  # stable: an item's entries stay in order
        if not sql.sqlite:
            self._cursor.executemany(
                sql.index_items, [(self.book, item, idx) for item, idx in ordered]
            )
            return
        step = self._rows_per_insert
        for start in range(0, len(ordered), step):
            chunk = ordered[start : start + step]
            values: list[Any] = [self.book, "", 0] * len(chunk)
            values[1::3] = [item for item, _idx in chunk]
            values[2::3] = [idx for _item, idx in chunk]
            self._cursor.execute(_sqlite_index_insert(len(chunk)), values)


class _Owned:
    """A SQLite driver connection a store keeps itself, outside SQLAlchemy's pool, with the
    methods of a pooled one that the store uses."""

    __slots__ = ("driver_connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.driver_connection = connection

    def cursor(self) -> sqlite3.Cursor:
        return self.driver_connection.cursor()

    def commit(self) -> None:
        self.driver_connection.commit()

    def rollback(self) -> None:
        self.driver_connection.rollback()

    def close(self) -> None:
        self.driver_connection.close()

    invalidate = close  # nothing else shares it


class SqlLedgerStore:
    """The ledger store on a SQL database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.sql = _Sql(self.dialect)
        dbapi = engine.dialect.loaded_dbapi
        self._integrity_error: type[Exception] = dbapi.IntegrityError
        self._operational_error: type[Exception] = dbapi.OperationalError
        self._bases: dict[str, int] = {}
        self._sqlite_rows: int | None = None  # rows per INSERT, once the library is asked
        self._records: dict[str, BookRecord] = {}
        self._nodes: dict[int, dict[NodeId, bytes]] = {}  # by book key base
        self._nodes_cached = 0
        self._nodes_lock = threading.Lock()
        # Writers of this process queue here before they ask the database: SQLite's own wait
        # for its one write lock is a sleep that backs off to 100 ms, which a busy server's
        # threads would otherwise pay on almost every append. SQLite has one writer per file,
        # so there it is one queue; PostgreSQL locks books apart, so there it is one per book.
        self._writers: dict[str, threading.Lock] = {}
        self._writers_lock = threading.Lock()
        # ...and on a SQLite file, the writers of every process then queue on a lock file, so
        # that none of them sleeps in SQLite's busy handler either (turns.py).
        self._turns = _writer_turns(engine)
        self._wal = WalCheckpointer(engine) if self.dialect == "sqlite" else None
        # SQLite: the driver connections this store's appends and reads take turns on, kept
        # out of SQLAlchemy's pool. A turn is a pop and an append on a list (atomic in Python)
        # where the pool's check-out, reset and check-in cost a sixth of a one-entry append
        # (docs/architecture.md). There are never more than threads using the store at once.
        # PostgreSQL keeps the pool: it pings idle connections and bounds how many are open.
        self._idle: list[Any] | None = [] if self.sql.sqlite else None
        self._closed = False
        # Reads of immutable rows, each one statement or chunks that need no common snapshot:
        # on PostgreSQL outside a transaction, which spares a BEGIN and a ROLLBACK round trip.
        self._reads = (
            engine if self.sql.sqlite else engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    def backup(self, target: Path) -> None:
        """A consistent copy of the SQLite database (the online backup API); on PostgreSQL
        the server's own tools do this."""
        if not self.sql.sqlite:
            raise InvalidInput(
                "on PostgreSQL, back up with the server's tools (pg_dump or a base backup)"
            )
        if target.exists():
            raise Conflict(f"{target} already exists: choose a new file")
        raw = self._connect()
        try:
            with closing(sqlite3.connect(target)) as copy:
                raw.driver_connection.backup(copy)
        except (OSError, sqlite3.Error) as problem:
            raise StorageError(f"cannot write the backup {target}: {problem}") from None
        finally:
            self._release(raw)

    def close(self) -> None:
        """Finish background work (the last WAL checkpoint on SQLite); close its connections."""
        self._closed = True
        if self._wal is not None:
            self._wal.stop()
        while self._idle:
            self._idle.pop().close()
        if isinstance(self._turns, WriterTurns):
            self._turns.close()

    @contextmanager
    def write(
        self, book: str, create: BookRecord | None = None, bulk: bool = False
    ) -> Iterator[SqlBookWriter]:
        with self._writer_queue(book), self._turns, self._write(book, create, bulk) as writer:
            yield writer

    def _writer_queue(self, book: str) -> threading.Lock:
        key = "" if self.sql.sqlite else book
        with self._writers_lock:
            lock = self._writers.get(key)
            if lock is None:
                lock = self._writers[key] = threading.Lock()
        return lock

    @contextmanager
    def _write(self, book: str, create: BookRecord | None, bulk: bool) -> Iterator[SqlBookWriter]:
        raw = self._connect()
        # PostgreSQL, a book whose key base is known: the transaction's statements go in a
        # pipeline, so the lock and the size come back in one round trip, and what the append
        # writes goes with the COMMIT in one more (docs/architecture.md). A bulk append inserts
        # by COPY, which a pipeline cannot carry: it takes the plain path.
        plain = create is not None or bulk or self.sql.sqlite
        known = None if plain else self._bases.get(book)
        bulk = bulk and self.sql.sqlite
        try:
            cursor = raw.cursor()
            try:
                if bulk:
                    # Tens of megabytes in one transaction: SQLite would copy the log back
                    # inside the commit; the checkpointer thread does it beside the next batch.
                    cursor.execute("PRAGMA wal_autocheckpoint=0")
                with raw.driver_connection.pipeline() if known is not None else nullcontext():
                    if self.sql.begin:
                        cursor.execute(self.sql.begin)
                    if create is not None:
                        self._insert_book(cursor, create)
                    writer = self._open_writer(raw, cursor, book, known)
                    yield writer
                    raw.commit()
                # Committed: the book exists with this number for good (books are never removed).
                self._bases.setdefault(book, writer.key_base)
                if bulk and self._wal is not None:
                    self._wal.committed(writer.written)
            except BaseException:
                if not self._abandon(raw):
                    raw = None
                raise
            finally:
                if raw is not None:  # else it is closed, and its cursor with it
                    if bulk:
                        cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
                    cursor.close()
        except self._operational_error as problem:
            raise StorageError(f"the database refused the append: {one_line(problem)}") from None
        finally:
            if raw is not None:
                self._release(raw)

    def _abandon(self, raw: Any) -> bool:
        """Roll back a failed append; False for a connection that cannot even do that (the
        server went away), which is dropped so that it is never handed out again."""
        try:
            raw.rollback()
        except self._operational_error:
            raw.invalidate()
            return False
        return True

    def _connect(self) -> Any:
        """A driver connection (SQLite: this store's own, else the pool's), or a StorageError
        a person can read. Give it back with `_release`."""
        if self._idle:
            try:
                return self._idle.pop()
            except IndexError:
                pass  # another thread took the last one between the test and the pop
        try:
            raw = self.engine.raw_connection()
        except (SQLAlchemyError, self._operational_error) as problem:
            raise StorageError(f"the database is not reachable: {one_line(problem)}") from None
        if self._idle is None:
            return raw
        # Made by the pool, so set up as every connection is (schema.py), then this store's.
        connection = cast(sqlite3.Connection, raw.dbapi_connection)
        raw.detach()
        return _Owned(connection)

    def _release(self, raw: Any) -> None:
        """Give back a connection from `_connect`, with no transaction open."""
        if self._idle is not None and not self._closed:
            self._idle.append(raw)
        else:
            raw.close()

    def _open_writer(self, raw: Any, cursor: Any, book: str, known: int | None) -> SqlBookWriter:
        """Lock the book and read its size; both sent at once when its key base is `known`."""
        if known is None:
            # SQLite: BEGIN IMMEDIATE took the one write lock already, so a book whose number
            # is known (books are never removed) needs no statement to lock it.
            cached = self._bases.get(book) if self.sql.sqlite else None
            base = cached if cached is not None else self._lock(cursor, book)
            cursor.execute(self.sql.last_pos, (base, base + INDEX_MASK + 1))
            last = cursor.fetchone()[0]
            rows = self._rows_per_insert(raw)
            return SqlBookWriter(self, cursor, book, base, last, rows_per_insert=rows)
        sizing = raw.cursor()
        cursor.execute(self.sql.lock_book, (book,))
        sizing.execute(self.sql.last_pos, (known, known + INDEX_MASK + 1))
        self._locked(cursor, book)
        last = sizing.fetchone()[0]
        sizing.close()
        return SqlBookWriter(self, cursor, book, known, last, pipelined=True)

    def _rows_per_insert(self, raw: Any) -> int:
        """Rows one INSERT may carry: SQLITE_ROWS_PER_INSERT, or fewer where the SQLite library
        allows fewer bound values (three per row). Read from the first connection, then kept:
        every connection of a process uses the same library."""
        if self._sqlite_rows is None:
            rows = SQLITE_ROWS_PER_INSERT
            if self.sql.sqlite:
                bound = raw.driver_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
                rows = max(1, min(rows, bound // 3))
            self._sqlite_rows = rows
        return self._sqlite_rows

    def _lock(self, cursor: Any, book: str) -> int:
        """Take the book's append lock; its entries' key base."""
        cursor.execute(self.sql.lock_book, (book,))
        return self._locked(cursor, book)

    def _locked(self, cursor: Any, book: str) -> int:
        """The key base the lock statement just executed on `cursor` found."""
        found = cursor.fetchone()
        if found is None:
            raise _no_such_book(book)
        return int(found[0]) << INDEX_BITS

    def _insert_book(self, cursor: Any, record: BookRecord) -> None:
        try:
            cursor.execute(
                self.sql.insert_book, (record.id, record.kind, record.name, record.created_at)
            )
        except self._integrity_error:
            raise Conflict(f"book {record.id!r} already exists") from None

    def query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """One SELECT in the driver's own placeholder style (`?` on SQLite, `%s` on
        PostgreSQL), on this store's connections: for the database's other adapters' reads
        that run on every command (accounts, PIN rows)."""
        return self._query(sql, params)

    def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """One read on a pooled driver connection: the path proofs take, where SQLAlchemy's
        own statement handling would cost more than the query (docs/benchmarks.md)."""
        raw = self._connect()
        try:
            rows = read_rows(raw, sql, params)
        except BaseException:
            raw.close()  # a statement may be left open in it: never handed out again
            raise
        self._release(raw)
        return rows

    def _base(self, book: str) -> int | None:
        """The key base of a book's entries (its number << INDEX_BITS); None if no such book."""
        base = self._bases.get(book)
        if base is None and self._fetch_book(book) is not None:
            base = self._bases[book]
        return base

    def book(self, book: str) -> BookRecord | None:
        # A book, once created, never changes and is never removed: found ones are remembered.
        known = self._records.get(book)
        return known if known is not None else self._fetch_book(book)

    def _fetch_book(self, book: str) -> BookRecord | None:
        """A book's record and key base, in one query, both remembered once found."""
        found = self._query(self.sql.book_record, (book,))
        return self._remember(found[0]) if found else None

    def _remember(self, row: Sequence[Any]) -> BookRecord:
        book_id, kind, name, created_at, number = row
        self._bases[book_id] = int(number) << INDEX_BITS
        record = self._records[book_id] = BookRecord(book_id, kind, name, created_at)
        return record

    def books(self) -> list[BookRecord]:
        with self._reads.connect() as connection:
            rows = connection.execute(select(*BOOK_COLUMNS).order_by(books.c.id)).all()
        return [BookRecord(**row._mapping) for row in rows]

    def size(self, book: str) -> int:
        base = self._bases.get(book)
        if base is None:
            # A book this process has not seen yet: its record and size in one query.
            step = INDEX_MASK + 1
            found = self._query(self.sql.book_and_last, (step, step, book))
            if not found:
                return 0
            *record, last = found[0]
            self._remember(record)
            base = self._bases[book]
        else:
            last = self._query(self.sql.last_pos, (base, base + INDEX_MASK + 1))[0][0]
        return 0 if last is None else int(last) - base + 1

    def read_nodes(self, book: str, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        """Tree nodes never change once written, so every node read is kept in a bounded
        cache; the rest come in one query."""
        base = self._base(book)
        if base is None:
            return {}
        cache = self._nodes.get(base)
        if cache is None:
            cache = self._nodes.setdefault(base, {})
        found: dict[NodeId, bytes] = {}
        missing: list[NodeId] = []
        for node in nodes:
            digest = cache.get(node)
            if digest is None:
                missing.append(node)
            else:
                found[node] = digest
        if missing:
            homes, wanted = _homes(missing, base)
            marks = ", ".join([self.sql.mark] * len(wanted))
            rows = self._query(f"{self.sql.nodes_prefix}{marks})", wanted)
            fetched = _slot_hashes(homes, {int(pos) - base: bytes(h) for pos, h in rows})
            found.update(fetched)
            with self._nodes_lock:
                if self._nodes_cached + len(fetched) > NODE_CACHE_SIZE:
                    for kept in self._nodes.values():
                        kept.clear()  # crude but bounded: the hot top of the tree refills at once
                    self._nodes_cached = 0
                cache.update(fetched)
                self._nodes_cached += len(fetched)
        return found

    def entries(self, book: str, start: int, end: int) -> Iterator[StoredEntry]:
        # Read in chunks by key so a million-entry book streams in bounded memory; each chunk
        # is one statement on the driver's own connection (entries never change once written).
        base = self._base(book)
        if base is None:
            return
        position = start
        while position < end:
            stop = min(position + READ_CHUNK, end)
            rows = self._query(self.sql.entries_since, (base + position, base + stop))
            for pos, body, hashes in rows:
                yield StoredEntry(int(pos) - base, bytes(body), bytes(hashes))
            position = stop

    def save_checkpoints(self, book: str, checkpoints: Sequence[tuple[int, str]]) -> None:
        # SQLite has one write lock: queue for it as appends do, never in its busy handler.
        turn = self._writer_queue(book) if self.sql.sqlite else nullcontext()
        with turn, self._turns:
            self._save_checkpoints(book, checkpoints)

    def _save_checkpoints(self, book: str, checkpoints: Sequence[tuple[int, str]]) -> None:
        base = self._base(book)
        if base is None:
            raise _no_such_book(book)
        raw = self._connect()
        try:
            try:
                cursor = raw.cursor()
                if self.sql.begin:
                    cursor.execute(self.sql.begin)
                cursor.executemany(
                    self.sql.keep_checkpoint, [(base + size, note) for size, note in checkpoints]
                )
                raw.commit()
                cursor.close()
            except BaseException:
                # Whatever failed, the connection goes back with no transaction open (on
                # SQLite an open one would keep the file's write lock), or not at all.
                if not self._abandon(raw):
                    raw = None
                raise
        except self._operational_error as problem:
            raise StorageError(
                f"the database refused to keep a checkpoint: {one_line(problem)}"
            ) from None
        finally:
            if raw is not None:
                self._release(raw)

    def entries_naming(self, book: str, item: str) -> list[int]:
        """The indices of the entries that name `item`, in order."""
        with self._reads.connect() as connection:
            rows = connection.execute(
                select(item_entries.c.idx)
                .where(item_entries.c.book == book, item_entries.c.item == item)
                .order_by(item_entries.c.idx)
            ).all()
        return [int(row.idx) for row in rows]

    def checkpoints(self, book: str) -> Iterator[tuple[int, str]]:
        base = self._base(book)
        if base is None:
            return
        with self._reads.connect() as connection:
            rows = connection.execute(
                select(checkpoints.c.pos, checkpoints.c.note)
                .where(checkpoints.c.pos >= base, checkpoints.c.pos <= base + INDEX_MASK)
                .order_by(checkpoints.c.pos)
            ).all()
        for row in rows:
            yield int(row.pos) - base, row.note


BOOK_COLUMNS = (books.c.id, books.c.kind, books.c.name, books.c.created_at)


def _no_such_book(book: str) -> NotFound:
    return NotFound(f"book {book!r} does not exist: `armory book create` makes one")


def _dump(doc: Any) -> str:
    # A projection document is plain JSON from `to_json`; orjson writes it about five times
    # faster than the standard library, which was a fifteenth of a command's time.
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()


def _writer_turns(engine: Engine) -> WriterTurns | nullcontext[None]:
    """The turns of the processes writing a SQLite file; nothing to wait for on PostgreSQL,
    whose books are locked apart, or on a database in memory, which no other process sees."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database.startswith((":", "file:")):
        return nullcontext()
    return WriterTurns(Path(database))


def _homes(nodes: Sequence[NodeId], base: int) -> tuple[dict[NodeId, tuple[int, int]], list[int]]:
    """Where each node is stored (entry index, slot), and the keys of those entries."""
    homes = {node: node_home(node) for node in nodes}
    return homes, sorted({base + index for index, _slot in homes.values()})


def _slot_hashes(
    homes: Mapping[NodeId, tuple[int, int]], stored: Mapping[int, bytes]
) -> dict[NodeId, bytes]:
    found: dict[NodeId, bytes] = {}
    for node, (index, slot) in homes.items():
        hashes = stored.get(index)
        if hashes is not None and len(hashes) >= (slot + 1) * HASH_SIZE:
            found[node] = hashes[slot * HASH_SIZE : (slot + 1) * HASH_SIZE]
    return found
