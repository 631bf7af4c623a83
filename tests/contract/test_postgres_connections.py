"""How the store uses PostgreSQL's connections: few round trips, and never a dead connection twice.

These are the paths the server's speed on PostgreSQL rests on (docs/architecture.md): pings
only after idling, single-statement reads outside a transaction, appends pipelined once the
book's key base is known. Each test checks the behaviour, not just that nothing broke.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection

from armory.adapters.sql import schema
from armory.adapters.sql.store import COPY_THRESHOLD
from armory.errors import StorageError
from armory.ledger.entry import Draft
from armory.ledger.merkle import Frontier, range_nodes
from armory.services.ledger import LedgerService
from armory.services.ports import BookWriter
from tests.contract.conftest import sql_ledger

pytestmark = pytest.mark.postgres


def one(n: int) -> list[Draft]:
    return [Draft.of("ana", "box_received", {"box": f"B-{n}", "count": 50})]


@pytest.fixture
def pg(postgres_url: str) -> Iterator[tuple[LedgerService, Engine, str]]:
    service, engine = sql_ledger(postgres_url)
    service.create_book("demo", "production", "Demo", "admin")
    yield service, engine, postgres_url
    engine.dispose()


def _driver_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _terminate_other_sessions(url: str) -> int:
    """Kill every other server process on this database, as a restart of the server would."""
    with psycopg.connect(_driver_url(url), autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(killed[0]) if killed else 0


def _sessions_in_transaction(url: str) -> int:
    with psycopg.connect(_driver_url(url), autocommit=True) as admin:
        found = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
        ).fetchone()
    return int(found[0]) if found else 0


def test_a_connection_in_steady_use_is_not_pinged_and_an_idle_one_is(
    pg: tuple[LedgerService, Engine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, engine, _url = pg
    pings: list[DBAPIConnection] = []
    real_ping = engine.dialect.do_ping

    def counting_ping(connection: DBAPIConnection) -> bool:
        pings.append(connection)
        return real_ping(connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counting_ping)
    ledger.append("demo", one(1))  # whatever connection this takes has now been used
    pings.clear()
    for n in range(2, 12):
        ledger.append("demo", one(n))
        assert ledger.store.size("demo") == n + 1
    assert pings == []
    monkeypatch.setattr(schema, "PING_AFTER_IDLE", 0.0)
    ledger.store.size("demo")
    assert len(pings) == 1


def test_connections_a_restarted_server_dropped_are_replaced_after_idling(
    pg: tuple[LedgerService, Engine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, _engine, url = pg
    ledger.append("demo", one(1))
    assert _terminate_other_sessions(url) >= 1
    monkeypatch.setattr(schema, "PING_AFTER_IDLE", 0.0)  # every pooled connection has idled
    assert ledger.append("demo", one(2)).entries == ((2, "box_received"),)
    assert ledger.store.size("demo") == 3
    assert ledger.verify_book("demo").size == 3


def test_single_statement_reads_leave_no_transaction_open_and_the_pool_as_it_was(
    pg: tuple[LedgerService, Engine, str],
) -> None:
    ledger, engine, url = pg
    ledger.append("demo", one(1))
    for _ in range(3):
        assert ledger.store.size("demo") == 2
        assert ledger.store.book("other") is None
        ledger.inclusion_proof("demo", 0)
    assert _sessions_in_transaction(url) == 0
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert isinstance(driver, psycopg.Connection)
        assert driver.autocommit is False
        assert driver.info.transaction_status == TransactionStatus.IDLE
    finally:
        raw.close()


def test_a_pipelined_append_that_fails_records_nothing_and_the_next_one_works(
    pg: tuple[LedgerService, Engine, str],
) -> None:
    ledger, _engine, _url = pg
    ledger.append("demo", one(1))  # the book's key base is now known: appends are pipelined
    checkpoint = ledger.checkpoint("demo")

    def fail_midway(writer: object, size: int, time: str) -> list[Draft]:
        raise RuntimeError("the work failed after the lock was taken")

    with pytest.raises(RuntimeError, match="after the lock"):
        ledger.transact("demo", fail_midway)
    assert ledger.store.size("demo") == 2
    assert ledger.checkpoint("demo") == checkpoint
    assert ledger.append("demo", one(2)).entries == ((2, "box_received"),)
    assert ledger.verify_book("demo").size == 3


def test_a_connection_that_died_in_use_fails_one_append_clearly_and_is_not_reused(
    pg: tuple[LedgerService, Engine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, engine, url = pg
    monkeypatch.setattr(schema, "PING_AFTER_IDLE", 3600.0)  # as if used a moment ago
    ledger.append("demo", one(1))
    assert engine.pool.checkedin() == 1  # type: ignore[attr-defined]
    _terminate_other_sessions(url)
    with pytest.raises(StorageError, match="the database refused the append"):
        ledger.append("demo", one(2))
    assert ledger.append("demo", one(3)).entries == ((2, "box_received"),)
    assert ledger.verify_book("demo").size == 3


def test_appends_big_enough_for_copy_work_once_the_book_is_known(
    pg: tuple[LedgerService, Engine, str],
) -> None:
    ledger, _engine, _url = pg
    many = [one(n)[0] for n in range(COPY_THRESHOLD + 50)]
    ledger.append("demo", one(0))  # known from here on: plain appends are pipelined
    assert ledger.append("demo", many).entries[-1][0] == 2 + len(many) - 1
    imported = ledger.append_many("demo", many, commit_every=COPY_THRESHOLD + 10)
    assert imported.count == len(many)
    assert ledger.verify_book("demo").size == 2 + 2 * len(many)


def test_a_read_after_writes_in_a_pipelined_append_gets_its_own_rows(
    pg: tuple[LedgerService, Engine, str],
) -> None:
    """In a pipeline the server answers writes as its output buffer fills, unasked; answers
    that come in while a read is being sent must not stand in for the read's rows (psycopg
    gives a cursor the latest answer to anything sent on it)."""
    ledger, _engine, _url = pg
    ledger.append("demo", one(1))  # the book's key base is now known: appends are pipelined
    size = ledger.store.size("demo")
    nodes = range_nodes(0, size)
    expected = Frontier.load(size, lambda wanted: ledger.store.read_nodes("demo", wanted))

    def many_writes(writer: BookWriter, kind: str) -> None:
        # Enough statements that their answers overflow the server's buffer of 8 KiB.
        writer.save_projections({(kind, f"{kind}-{n}"): {"n": n} for n in range(2000)})
        time.sleep(0.2)  # the answers arrive meanwhile, unread until the next send

    with ledger.store.write("demo") as writer:
        many_writes(writer, "firearm")
        assert Frontier(size, [writer.read_nodes(nodes)[node] for node in nodes]) == expected
        many_writes(writer, "box")
        assert [entry.idx for entry in writer.entries_since(0)] == list(range(size))
        many_writes(writer, "person")
        assert len(writer.load_projections()) == 3 * 2000
