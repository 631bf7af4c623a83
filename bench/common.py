"""What the benchmarks share: the scale of a run, the entries, the ledger under test, timing
helpers and the shape of the results each benchmark hands to the report."""

from __future__ import annotations

import math
import os
import random
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine

from armory.adapters.keys import FileKeyStore
from armory.adapters.sql.schema import make_engine, migrate
from armory.adapters.sql.store import SqlLedgerStore
from armory.ledger.canonical import JSONValue
from armory.ledger.entry import Draft, DraftEncoder, format_time
from armory.ledger.note import SignerKey
from armory.services.ledger import LedgerService
from armory.services.ports import Clock

REPO = Path(__file__).resolve().parent.parent
BOOK = "bench"
BOOK_KIND = "production"
BOOK_NAME = "Benchmark production"
NODE = "bench.node"
SEED = 20261124  # every random choice is seeded, so two runs measure the same work

# The big book is written with a clock that always says this: the entries are then known
# byte for byte before the append, so pymerkle is given exactly the bytes we store and both
# trees must end with the same root, which the harness checks.
FIXED_TIME = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

MAKES = (
    ("Uberti", "1873 Cattleman", ".45 Colt", 6),
    ("Colt", "Single Action Army", ".45 Colt", 6),
    ("Smith & Wesson", "Model 10", ".38 Special", 6),
    ("Beretta", "92FS", "9mm blank", 15),
    ("Glock", "17", "9mm blank", 17),
    ("Winchester", "1892", ".44-40", 10),
    ("Remington", "870", "12ga blank", 4),
)
ACTORS = ("armorer.kim", "armorer.ola", "asst.armorer.raj", "props.maya")
TYPES = ("firearm_checked_out", "firearm_returned", "firearm_moved", "firearm_inspected")
NOTES = (
    "cleared and shown to first AD before rehearsal",
    "barrel checked clear, cylinder empty, returned to safe",
    "moved to set B for scene 42, armorer present",
    "inspected after take, no residue, logged by armorer",
    "handed to stunt double under armorer supervision",
)


def now_utc() -> datetime:
    return datetime.now(UTC)


def fixed_clock() -> datetime:
    return FIXED_TIME


@dataclass(frozen=True)
class Scale:
    """How much work one run does."""

    entries: int  # the big book (benchmarks 1, 3, 4, 5)
    single_ours: int  # appends of one entry each (benchmark 2), at most...
    single_pymerkle: int
    single_seconds: float  # ...and for at most this long
    fresh_samples: int  # fresh processes per proof kind and system (benchmark 3a)
    warm_proofs: int  # timed proofs per kind and system in one process (benchmark 3b)
    warm_ups: int
    verified: int  # proofs per kind and system checked after the timing


FULL = Scale(1_000_000, 20_000, 3_000, 10.0, 15, 2_000, 20, 50)
QUICK = Scale(20_000, 500, 200, 2.0, 3, 200, 5, 10)


# Progress


_START = time.perf_counter()


def log(message: str) -> None:
    """One progress line, with the seconds since the run began."""
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", flush=True)


# Entries


def make_drafts(count: int, seed: int = SEED) -> list[Draft]:
    """`count` drafts of realistic ~300-byte entries, each with its own firearm and serial."""
    rng = random.Random(seed)
    drafts = []
    for n in range(count):
        make, model, calibre, rounds = MAKES[rng.randrange(len(MAKES))]
        data: dict[str, JSONValue] = {
            "firearm": f"F-{n % 100_000:05d}",
            "serial": f"SN{rng.randrange(10**9):09d}",
            "make": make,
            "model": model,
            "calibre": calibre,
            "capacity": rounds,
            "location": f"safe-{rng.randrange(1, 13)}",
            "scene": rng.randrange(1, 400),
            "note": NOTES[rng.randrange(len(NOTES))],
        }
        drafts.append(Draft.of(rng.choice(ACTORS), rng.choice(TYPES), data))
    return drafts


def book_created_draft() -> Draft:
    """The draft `create_book` records as entry 0 (same actor, type and data)."""
    return Draft.of(ACTORS[0], "book_created", {"kind": BOOK_KIND, "name": BOOK_NAME, "node": NODE})


def entry_bytes(drafts: Sequence[Draft], first: int) -> list[bytes]:
    """The bytes the ledger stores for `drafts` placed at `first`, `first + 1`, ... under the
    fixed clock: what pymerkle is given, so that both store and hash the same bytes."""
    encoder = DraftEncoder(BOOK, format_time(FIXED_TIME))
    return [encoder.encode(draft, first + n) for n, draft in enumerate(drafts)]


# The ledger under test


@dataclass(frozen=True)
class Node:
    """A data directory holding the node key, and the URL of the node's database."""

    directory: Path
    url: str

    def signer(self) -> SignerKey:
        return FileKeyStore(self.directory).load()


def new_node(directory: Path, url: str | None = None) -> Node:
    """A data directory laid out as `armory init` leaves it, so the CLI can open it too."""
    directory.mkdir(parents=True, mode=0o700)
    FileKeyStore(directory).create(NODE)
    return Node(directory, url or f"sqlite:///{directory / 'armory.db'}")


@dataclass
class Ledger:
    engine: Engine
    store: SqlLedgerStore
    service: LedgerService

    def close(self) -> None:
        """As the application closes: keep signed checkpoints, last WAL checkpoint, dispose."""
        try:
            self.service.flush()
        finally:
            self.store.close()
            self.engine.dispose()


def open_ledger(node: Node, clock: Clock = now_utc) -> Ledger:
    """The service as the application assembles it (armory.bootstrap.open_armory)."""
    engine = make_engine(node.url)
    migrate(engine)
    store = SqlLedgerStore(engine)
    return Ledger(engine, store, LedgerService(store, node.signer(), clock, NODE))


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class Checkpointer(Protocol):
    def checkpoint(self) -> None: ...


def settle(pg: Checkpointer | None) -> None:
    """Before a timed run: have what earlier runs left dirty written out now (PostgreSQL's own
    checkpoint, then the kernel's page cache), so that it is not written during, and slowing,
    the fsyncs of the run that follows."""
    if pg is not None:
        pg.checkpoint()
    os.sync()


def python() -> str:
    """The interpreter running the benchmarks, for the processes it starts."""
    return sys.executable


def child_env() -> dict[str, str]:
    """The environment of child processes: without a database URL that would redirect them."""
    env = dict(os.environ)
    env.pop("ARMORY_DATABASE_URL", None)
    env.pop("ARMORY_DATA_DIR", None)
    return env


# Statistics


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value at or above `share` of the values."""
    ordered = sorted(values)
    rank = math.ceil(round(share * len(ordered), 9))  # round: 0.99 * 2000 is not quite 1980
    return ordered[min(max(rank, 1), len(ordered)) - 1]


# Results


@dataclass
class Row:
    """One measured quantity: ours, the target, pymerkle's in the same run, and the ratio."""

    measure: str
    ours: str
    pymerkle: str = "-"
    # How many times faster ours is: our rate over pymerkle's, or pymerkle's time over ours.
    ratio: float | None = None
    target: str = "reported"
    met: bool | None = None  # None: no target, the number is reported


@dataclass
class Section:
    title: str
    rows: list[Row]
    method: list[str]  # paragraphs: how it was measured
    checks: list[str] = field(default_factory=list)  # what the harness verified


def rate(value: float) -> str:
    return f"{value:,.0f} entries/s"


def ms(seconds: float) -> str:
    value = seconds * 1000
    if value >= 100:
        return f"{value:,.0f} ms"
    return f"{value:.1f} ms" if value >= 10 else f"{value:.3f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def faster(ours_seconds: float, theirs_seconds: float) -> float:
    """The speed ratio of two times: above 1, ours took less time."""
    return theirs_seconds / ours_seconds
