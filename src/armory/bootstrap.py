"""The one place that picks the adapters and assembles Armory."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from armory.adapters.keys import FileKeyStore
from armory.adapters.sql.accounts import SqlAccounts, SqlSecurityLog
from armory.adapters.sql.schema import make_engine, migrate
from armory.adapters.sql.store import SqlLedgerStore
from armory.config import Settings
from armory.errors import InvalidInput, StorageError
from armory.services.commands import CommandService
from armory.services.ledger import LedgerService

DEFAULT_NODE_NAME = "armory.local"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Armory:
    """An assembled Armory node: its settings, database engine and services."""

    settings: Settings
    engine: Engine
    store: SqlLedgerStore
    ledger: LedgerService
    accounts: SqlAccounts
    commands: CommandService
    security: SqlSecurityLog

    def close(self) -> None:
        """Keep the last signed checkpoints, finish background work, close the database."""
        try:
            # A checkpoint that could not be kept is signed again, byte for byte, next time;
            # the error that matters (the database went away) is the one already under way.
            with suppress(StorageError):
                self.ledger.flush()
        finally:
            self.accounts.close()
            self.store.close()
            self.engine.dispose()


def init(settings: Settings, node_name: str | None = None) -> Armory:
    """Create the data directory, database and node key; keep whatever already exists."""
    keys = FileKeyStore(settings.data_dir)
    if keys.exists() and node_name is not None and keys.load().name != node_name:
        raise InvalidInput(
            f"this data directory already belongs to node {keys.load().name!r}; "
            "a node's name cannot change"
        )
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as problem:
        raise StorageError(f"cannot create {settings.data_dir}: {problem}") from None
    keys.create(node_name or DEFAULT_NODE_NAME)
    engine = make_engine(settings.database_url)
    migrate(engine)
    engine.dispose()
    return open_armory(settings)


def open_armory(settings: Settings, clock: Callable[[], datetime] = utc_now) -> Armory:
    """Assemble Armory on an initialised data directory."""
    signer = FileKeyStore(settings.data_dir).load()
    engine = make_engine(settings.database_url)
    migrate(engine)
    store = SqlLedgerStore(engine)
    ledger = LedgerService(store, signer, clock, signer.name)
    accounts = SqlAccounts(engine, query=store.query)
    security = SqlSecurityLog(engine)
    commands = CommandService(ledger, accounts, security)
    return Armory(settings, engine, store, ledger, accounts, commands, security)
