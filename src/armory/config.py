"""Settings, read once at the edge from options and the environment (SPEC §7)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "ARMORY_DATA_DIR"
DATABASE_URL_ENV = "ARMORY_DATABASE_URL"
# `armory serve`'s request threads (the sync endpoints: every page and API route). They all run
# Python under one interpreter lock, so more of them only take turns with the book's writer
# thread: under 50 clients, 4 served half again the commands per second of the usual 40 with a
# lower tail, on SQLite and on PostgreSQL (docs/benchmarks.md). Other requests wait their turn
# in the event loop.
REQUEST_THREADS = 4
MAX_REQUEST_THREADS = 64
REQUEST_THREADS_ENV = "ARMORY_REQUEST_THREADS"  # how `armory serve` tells its processes
MAX_SERVER_PROCESSES = 16


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "armory"


@dataclass(frozen=True)
class Settings:
    """Where Armory keeps its data: the data directory (node key, SQLite file, attachments)
    and the database URL (the SQLite file in the data directory unless one is given)."""

    data_dir: Path
    database_url: str

    @classmethod
    def load(cls, data_dir: Path | None = None, database_url: str | None = None) -> Settings:
        env_dir = os.environ.get(DATA_DIR_ENV)
        directory = data_dir or (Path(env_dir) if env_dir else default_data_dir())
        directory = directory.expanduser().absolute()
        url = (
            database_url
            or os.environ.get(DATABASE_URL_ENV)
            or f"sqlite:///{directory / 'armory.db'}"
        )
        return cls(directory, url)
