"""SQLite specifics of the append path: how many rows one INSERT may carry, how its values
are bound, and how the writers of several processes take turns."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from armory.adapters.sql import schema, store, turns
from armory.services.ledger import INSERT_BATCH, LedgerService
from tests.contract.conftest import sql_ledger
from tests.contract.test_ledger import bodies, drafts

Ledger = tuple[LedgerService, Engine]


@pytest.fixture
def demo(sqlite_url: str) -> Iterator[Ledger]:
    """A ledger on SQLite, and its engine, with the book `demo` created."""
    service, engine = sql_ledger(sqlite_url)
    service.create_book("demo", "production", "Demo", "admin")
    yield service, engine
    engine.dispose()


def _inserted_rows(sql: str) -> int:
    # INSERT INTO entries (pos, body, hashes) VALUES (...), (...): one group per row.
    return sql.count("(") - 1


def test_a_bulk_append_splits_its_inserts_to_fit_the_librarys_limit_on_bound_values(
    sqlite_url: str,
) -> None:
    service, engine = sql_ledger(sqlite_url)
    engine.dispose()  # connections made before the listener below are not used again
    rows_per_statement: list[int] = []

    # A library built with a low limit: 31 bound values, so at most 10 rows per statement.
    @event.listens_for(engine, "connect")
    def lower_the_limit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 31)

        def trace(sql: str) -> None:
            if sql.startswith("INSERT OR FAIL INTO entries"):
                rows_per_statement.append(_inserted_rows(sql))

        dbapi_connection.set_trace_callback(trace)

    try:
        service.create_book("demo", "production", "Demo", "admin")
        service.append_many("demo", drafts(95), commit_every=50)
        assert service.verify_book("demo").size == 96
        assert sum(rows_per_statement) == 96
        assert max(rows_per_statement) == 10
    finally:
        engine.dispose()


def test_a_bulk_append_bigger_than_one_statement_stores_every_entry_in_its_place(
    demo: Ledger,
) -> None:
    service, _engine = demo
    count = store.SQLITE_ROWS_PER_INSERT * 2 + 7
    imported = service.append_many("demo", drafts(count))
    assert (imported.first, imported.count) == (1, count)
    # verify_book recomputes every leaf and interior hash and checks each row's index.
    assert service.verify_book("demo").size == count + 1
    assert len(bodies(service, "demo")) == count + 1


def test_a_statement_of_many_rows_keeps_the_rows_before_a_failure_so_needs_no_journal() -> None:
    # SQLite's default (ABORT) undoes a failed statement's own rows, and to be able to it copies
    # every page the statement changes into a statement journal first. With FAIL the rows before
    # the failure stay, which is what lets SQLite skip that copy: shown here on the statements
    # themselves, on a table shaped as the store's.
    connection = sqlite3.connect(":memory:", isolation_level=None)
    connection.execute("CREATE TABLE entries (pos INTEGER PRIMARY KEY, body BLOB, hashes BLOB)")
    connection.execute(
        "CREATE TABLE item_entries (book TEXT, item TEXT, idx INTEGER, "
        "PRIMARY KEY (book, item, idx))"
    )
    connection.execute("INSERT INTO entries VALUES (102, x'00', x'00')")
    connection.execute("INSERT INTO item_entries VALUES ('demo', 'B-1', 1)")
    connection.execute("BEGIN")
    rows = [(0, b"a", b"h"), (1, b"b", b"h"), (2, b"c", b"h"), (3, b"d", b"h")]
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute(store._sqlite_insert(4), store._sqlite_values(rows, 100))
    # 100 and 101 went in before 102 was found taken; 103 was never tried.
    assert connection.execute("SELECT pos FROM entries ORDER BY pos").fetchall() == [
        (100,),
        (101,),
        (102,),
    ]
    # The index's statement: a pair already there is skipped, and nothing else is lost.
    connection.execute(
        store._sqlite_index_insert(3), ["demo", "B-1", 1, "demo", "B-1", 2, "demo", "B-2", 2]
    )
    assert connection.execute("SELECT count(*) FROM item_entries").fetchone() == (3,)
    connection.execute("ROLLBACK")
    assert connection.execute("SELECT pos FROM entries").fetchall() == [(102,)]


def test_a_bulk_append_that_fails_inside_a_statement_of_many_rows_stores_none_of_it(
    demo: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rows a failing statement already inserted stay in the transaction (OR FAIL): the
    # store must roll the whole transaction back, earlier statements and checkpoints included.
    service, _engine = demo
    service.append_many("demo", drafts(10))
    before = bodies(service, "demo")
    checkpoints_before = list(service.store.checkpoints("demo"))
    insert = store.SqlBookWriter.insert
    calls = 0

    def insert_then_clash(writer: store.SqlBookWriter, rows: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second batch: take the place of its third row first
            index = rows[2][0]
            writer._cursor.execute(
                "INSERT INTO entries (pos, body, hashes) VALUES (?, x'00', x'00')",
                (writer.key_base + index,),
            )
        insert(writer, rows)

    monkeypatch.setattr(store.SqlBookWriter, "insert", insert_then_clash)
    with pytest.raises(sqlite3.IntegrityError):
        service.append_many("demo", drafts(3 * INSERT_BATCH, start=10))
    monkeypatch.undo()
    assert bodies(service, "demo") == before
    assert list(service.store.checkpoints("demo")) == checkpoints_before
    assert service.verify_book("demo").size == 11
    service.append_many("demo", drafts(5, start=10))
    assert service.verify_book("demo").size == 16


def test_a_new_database_has_pages_of_page_bytes_and_an_older_one_keeps_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def page_size(path: Path) -> int:
        with contextlib.closing(sqlite3.connect(path)) as connection:
            return int(connection.execute("PRAGMA page_size").fetchone()[0])

    service, engine = sql_ledger(f"sqlite:///{tmp_path / 'new.db'}")
    service.create_book("demo", "production", "Demo", "admin")
    engine.dispose()
    assert page_size(tmp_path / "new.db") == schema.PAGE_BYTES == 4096

    # A database made with other pages (a different build, or a copy someone vacuumed).
    monkeypatch.setattr(schema, "PAGE_BYTES", 8192)
    service, engine = sql_ledger(f"sqlite:///{tmp_path / 'old.db'}")
    service.create_book("demo", "production", "Demo", "admin")
    engine.dispose()
    monkeypatch.undo()
    service, engine = sql_ledger(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        service.append_many("demo", drafts(50))
        assert service.verify_book("demo").size == 51
    finally:
        engine.dispose()
    assert page_size(tmp_path / "old.db") == 8192


def test_entries_are_stored_as_blobs_and_read_back_as_the_bytes_appended(demo: Ledger) -> None:
    # The byte strings are bound as bytearrays (a faster path of the driver): the column must
    # still hold BLOBs, equal to what was appended, in single and bulk appends alike.
    service, engine = demo
    service.append("demo", drafts(3))
    service.append_many("demo", drafts(4))
    with engine.connect() as connection:
        kinds = connection.exec_driver_sql(
            "SELECT DISTINCT typeof(body), typeof(hashes) FROM entries"
        ).all()
    assert kinds == [("blob", "blob")]
    stored = bodies(service, "demo")
    assert all(type(body) is bytes for body in stored)
    assert len(stored) == 8
    assert service.verify_book("demo").size == 8


def test_the_insert_of_many_rows_holds_only_placeholders() -> None:
    # SQLite compares each constant of a statement with every one before it while preparing it:
    # with the key written as `base + ?`, a statement of 5,000 rows took 0.2 s to prepare.
    statement = store._sqlite_insert(store.SQLITE_ROWS_PER_INSERT)
    head, values = statement.split(" VALUES ")
    assert head == "INSERT OR FAIL INTO entries (pos, body, hashes)"
    assert values.split(", (") == ["(?, ?, ?)"] + ["?, ?, ?)"] * (store.SQLITE_ROWS_PER_INSERT - 1)


def _sql_store(service: LedgerService) -> store.SqlLedgerStore:
    found = service.store
    assert isinstance(found, store.SqlLedgerStore)
    return found


def test_values_are_flattened_in_row_order_keyed_from_the_books_base() -> None:
    rows = [(0, b"{}", b"h" * 32), (1, b"[]", b"g" * 64)]
    values = store._sqlite_values(rows, 7 << 40)
    assert values == [
        7 << 40,
        bytearray(b"{}"),
        bytearray(b"h" * 32),
        (7 << 40) + 1,
        bytearray(b"[]"),
        b"g" * 64,
    ]
    assert [type(v) for v in values] == [int, bytearray, bytearray] * 2


def test_the_stores_own_connection_is_reused_and_never_left_inside_a_transaction(
    sqlite_url: str,
) -> None:
    service, engine = sql_ledger(sqlite_url)
    other, other_engine = sql_ledger(sqlite_url)
    engine.dispose()  # the store's first connection is made below, where it is counted
    opened: list[sqlite3.Connection] = []
    event.listen(engine, "connect", lambda connection, _record: opened.append(connection))
    try:
        service.create_book("demo", "production", "Demo", "admin")
        for n in range(20):
            service.append("demo", drafts(1, start=n))
            assert service.store.size("demo") == n + 2
        with pytest.raises(RuntimeError, match="the command failed"), service.store.write("demo"):
            raise RuntimeError("the command failed")
        other.append("demo", drafts(1, start=99))  # the failed append let go of the write lock
        assert service.store.size("demo") == 22  # and reads see what others committed since
        assert bodies(service, "demo") == bodies(other, "demo")
        assert len(opened) == 1
        _sql_store(service).close()
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            opened[0].execute("SELECT 1")
    finally:
        engine.dispose()
        other_engine.dispose()


@contextlib.contextmanager
def traced_process(sqlite_url: str) -> Iterator[tuple[LedgerService, list[str]]]:
    """A ledger as a fresh process opens it, and every statement its store's connection sends."""
    fresh, engine = sql_ledger(sqlite_url)
    engine.dispose()  # the store's first connection is made by the caller, where it is traced
    statements: list[str] = []

    @event.listens_for(engine, "connect")
    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    try:
        yield fresh, statements
    finally:
        engine.dispose()


def test_a_fresh_processs_first_proof_takes_two_statements(sqlite_url: str) -> None:
    writer, writer_engine = sql_ledger(sqlite_url)
    writer.create_book("demo", "production", "Demo", "admin")
    writer.append_many("demo", drafts(1000), commit_every=400)
    try:
        with traced_process(sqlite_url) as (fresh, statements):
            proof = fresh.inclusion_proof("demo", 777, size=1001)
            assert len(proof) == 10
            # The book's record with its size, then the proof's nodes.
            assert [sql.split(" FROM ")[0][:20] for sql in statements] == [
                "SELECT b.id, b.kind,",
                "SELECT pos, hashes",
            ]
    finally:
        writer_engine.dispose()


def test_an_append_to_a_book_the_process_knows_takes_no_statement_to_lock_it(
    sqlite_url: str,
) -> None:
    writer, writer_engine = sql_ledger(sqlite_url)
    writer.create_book("demo", "production", "Demo", "admin")
    try:
        with traced_process(sqlite_url) as (fresh, statements):
            fresh.append("demo", drafts(1))
            statements.clear()
            fresh.append("demo", drafts(1, start=1))
            # BEGIN IMMEDIATE holds SQLite's one write lock: the book needs no statement of
            # its own.
            assert statements[0] == "BEGIN IMMEDIATE"
            assert not [sql for sql in statements if "FROM books" in sql]
            assert fresh.verify_book("demo").size == 3
    finally:
        writer_engine.dispose()


def test_an_append_whose_rollback_fails_reports_its_own_error_and_drops_the_connection(
    demo: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, _engine = demo

    def rollback(_connection: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store._Owned, "rollback", rollback)
    with pytest.raises(RuntimeError, match="the command failed"), service.store.write("demo"):
        raise RuntimeError("the command failed")
    monkeypatch.undo()
    assert _sql_store(service)._idle == []  # closed, not handed out again
    service.append("demo", drafts(1))  # on a new connection
    assert service.verify_book("demo").size == 2


def test_sqlite_connections_read_through_a_memory_map(demo: Ledger) -> None:
    _service, engine = demo
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        (mapped,) = driver.execute("PRAGMA mmap_size").fetchone()
    finally:
        raw.close()
    # Ours, or less where the library was built with a lower cap (it is never raised).
    assert 0 < mapped <= schema.MMAP_BYTES


def _turn_file(engine: Engine) -> Path:
    database = engine.url.database
    assert database is not None
    return Path(database + turns.SUFFIX)


def test_an_append_waits_its_turn_while_another_process_holds_the_writers_lock(
    demo: Ledger,
) -> None:
    service, engine = demo
    service.append("demo", drafts(1))  # the store opens its lock file on its first append
    path = _turn_file(engine)
    assert path.stat().st_mode & 0o777 == 0o600
    appended = threading.Event()

    def append() -> None:
        service.append("demo", drafts(1))
        appended.set()

    # Another open of the same file stands for another process: flock locks exclude each other
    # across open files, in one process or two.
    holder = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        writer = threading.Thread(target=append)
        writer.start()
        assert not appended.wait(0.5), "the append went ahead while another writer had its turn"
        fcntl.flock(holder, fcntl.LOCK_UN)
        assert appended.wait(10), "the append never got its turn after the lock was let go"
        writer.join()
    finally:
        os.close(holder)
    assert service.verify_book("demo").size == 3


def test_a_writer_killed_during_its_turn_does_not_keep_the_lock(demo: Ledger) -> None:
    service, engine = demo
    path = _turn_file(engine)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(600)\n",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        holder.kill()
        holder.wait(10)
        service.append("demo", drafts(1))  # would wait forever if the dead writer kept it
    finally:
        holder.kill()
        holder.wait(10)
    assert service.verify_book("demo").size == 2


def test_a_database_in_memory_or_on_postgresql_has_no_writers_lock_file() -> None:
    memory = schema.make_engine("sqlite://")
    server = schema.make_engine("postgresql+psycopg://armory@127.0.0.1:1/none")  # not opened
    try:
        assert isinstance(store._writer_turns(memory), contextlib.nullcontext)
        assert isinstance(store._writer_turns(server), contextlib.nullcontext)
    finally:
        memory.dispose()
        server.dispose()
