"""A ledger service on each storage backend, with a fixed key and a clock that ticks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from armory.adapters.memory import InMemoryLedgerStore
from armory.adapters.sql.schema import make_engine, migrate
from armory.adapters.sql.store import SqlLedgerStore
from armory.ledger.note import SignerKey
from armory.services.ledger import LedgerService

# A fixed seed makes signatures, and so checkpoints, identical from run to run.
TEST_SIGNER = SignerKey(name="test.node", seed=bytes(range(32)))


class TickingClock:
    """Each call is one millisecond after the previous one, from a fixed start."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def sql_ledger(url: str) -> tuple[LedgerService, Engine]:
    engine = make_engine(url)
    migrate(engine)
    return LedgerService(SqlLedgerStore(engine), TEST_SIGNER, TickingClock(), "test.node"), engine


@pytest.fixture
def engine_and_ledger(database_url: str) -> Iterator[tuple[Engine, LedgerService]]:
    service, engine = sql_ledger(database_url)
    yield engine, service
    engine.dispose()


@pytest.fixture
def ledger(engine_and_ledger: tuple[Engine, LedgerService]) -> LedgerService:
    return engine_and_ledger[1]


@pytest.fixture
def reopen(database_url: str) -> Iterator[Callable[[], LedgerService]]:
    """Open the same database again, as a fresh process would: nothing cached."""
    engines: list[Engine] = []

    def open_again() -> LedgerService:
        service, engine = sql_ledger(database_url)
        engines.append(engine)
        return service

    yield open_again
    for engine in engines:
        engine.dispose()


@pytest.fixture
def memory_ledger() -> LedgerService:
    return LedgerService(InMemoryLedgerStore(), TEST_SIGNER, TickingClock(), "test.node")
