"""Engines and migrations: SQLite (WAL, synchronous=FULL) by default, PostgreSQL by URL."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError

from armory.errors import StorageError

MIGRATIONS = Path(__file__).parent / "migrations"
WRITE_OPTION = "armory_write"  # execution option: this transaction will append
PING_AFTER_IDLE = 5.0  # seconds a PostgreSQL connection may sit unused before it is pinged
RETURNED_AT = "armory_returned_at"  # where a pooled connection's last return is noted
AUTOCHECKPOINT_PAGES = 1000  # SQLite's default: the log is copied back every 1,000 pages
# A new database's page size: SQLite's usual default, set rather than assumed. Larger pages
# cost a bulk append fewer system calls (8 KiB: about a tenth faster), but every domain command
# writes a handful of pages (the entry, its checkpoint, projections, the item index) and waits
# for the disk to take them: with 8 KiB pages 1,929-1,938 commands/s, with 4 KiB 2,040-2,049,
# alternating runs (docs/architecture.md). A database made with other pages keeps them:
# SQLite fixes the size when it writes the first table.
PAGE_BYTES = 4096
MMAP_BYTES = 0x7FFF0000  # SQLite's default cap on memory-mapped reads (SQLITE_MAX_MMAP_SIZE)


def make_engine(url: str) -> Engine:
    """An engine for `url`, configured for durability (SPEC §8)."""
    try:
        if url.startswith("sqlite"):
            return _sqlite_engine(url)
        if url.startswith("postgresql"):
            # Up to 50 connections per process, as before, but 40 of them kept open: a server's
            # 40 request threads would otherwise open and close overflow connections all day.
            return _postgres_engine(url)
    except (SQLAlchemyError, ImportError) as problem:
        raise StorageError(f"cannot use database {url!r}: {one_line(problem)}") from None
    raise StorageError(
        f"database URL {url!r} is not supported: use sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST:PORT/DB"
    )


def read_rows(raw: Any, sql: str, params: Sequence[Any]) -> list[Any]:
    """One SELECT on a pooled driver connection `raw`, which the caller closes.

    On PostgreSQL the statement runs outside a transaction: psycopg would otherwise send BEGIN
    before it and the pool ROLLBACK after it, three round trips for one. SQLite's connections
    begin transactions only when told to, so there it is one statement already.
    """
    postgres = not isinstance(raw.driver_connection, sqlite3.Connection)
    try:
        if postgres:
            raw.driver_connection.autocommit = True
        cursor = raw.cursor()
        cursor.execute(sql, params)
        rows = list(cursor.fetchall())
        cursor.close()
        if postgres:
            raw.driver_connection.autocommit = False
    except BaseException:
        if postgres:
            raw.invalidate()  # in an unknown state: the pool opens a fresh one instead
        raise
    return rows


def _postgres_engine(url: str) -> Engine:
    # Up to 50 connections per process, 40 of them kept open: a server's 40 request threads
    # would otherwise open and close overflow connections all day.
    engine = create_engine(url, pool_size=40, max_overflow=10)

    # A connection that sat unused for a while is pinged before it is handed out, and replaced
    # if the server went away meanwhile. One in steady use is not: pinging at every checkout
    # cost a round trip per statement, a tenth of a busy server's time (docs/benchmarks.md).
    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(RETURNED_AT)
        if returned is not None and time.monotonic() - returned < PING_AFTER_IDLE:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise DisconnectionError("the database connection was lost")  # the pool retries

    @event.listens_for(engine, "checkin")
    def note_return(_dbapi_connection: Any, record: Any) -> None:
        record.info[RETURNED_AT] = time.monotonic()

    return engine


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Transactions are begun explicitly below, so the driver's own handling is switched off.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA page_size={PAGE_BYTES}")  # first: only a new file takes it
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged append survives power loss
        cursor.execute("PRAGMA busy_timeout=60000")
        # Reads map the database file instead of copying each page in with a system call: a
        # proof reads about ten random rows of a large book, and its median fell from 0.155 ms
        # to 0.085 ms at a million entries (docs/architecture.md). Writes still go through the
        # log. Up to SQLite's own cap (2 GiB unless built otherwise); beyond it, reads copy.
        cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        # SQLite's own checkpoints keep the log small for everyday appends; bulk appends turn
        # them off for their transaction and leave the copy to WalCheckpointer. A log that grew
        # in a bulk append is cut back to 64 MiB when it restarts.
        cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        cursor.execute("PRAGMA journal_size_limit=67108864")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        # A writer takes the database's write lock at BEGIN, so two appenders never both read
        # the same size; readers take no lock (WAL lets them read beside the writer).
        writing = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    return engine


# The newest migration. Opening a node compares the database's revision with it and loads
# Alembic only to upgrade; a test checks it against the migrations folder.
HEAD_REVISION = "0005"


def current_revision(engine: Engine) -> str | None:
    """The database's migration revision, or None for a database Armory never prepared."""
    with engine.connect() as connection:
        try:
            with connection.begin_nested() if connection.in_transaction() else connection.begin():
                found = connection.execute(text("SELECT version_num FROM alembic_version"))
                row = found.first()
        except SQLAlchemyError:
            return None
    return None if row is None else str(row[0])


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration; does nothing when it is already there."""
    try:
        found = current_revision(engine)
        if found == HEAD_REVISION:
            return
        if found is not None and found not in _known_revisions():
            raise StorageError(
                f"the database's schema is at revision {found}, which this version of Armory "
                f"does not know (it knows up to {HEAD_REVISION}): a newer Armory prepared it; "
                "open it with that version or a later one"
            )
        from alembic import command  # noqa: PLC0415 -- Alembic loads only when it has work
        from alembic.config import Config  # noqa: PLC0415 -- same reason

        with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    except SQLAlchemyError as problem:
        raise StorageError(
            f"cannot prepare the database: {one_line(problem)} (is it an Armory database?)"
        ) from None


def _known_revisions() -> set[str]:
    """The revisions of this version's migrations, read from their file names (NNNN_*.py)."""
    return {path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py")}


def one_line(problem: BaseException) -> str:
    """The driver's own message, on one line, without SQLAlchemy's links and SQL echo."""
    original = getattr(problem, "orig", None) or problem
    return (str(original).strip().splitlines() or [type(original).__name__])[0]
