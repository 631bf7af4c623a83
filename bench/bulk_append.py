"""Benchmark 1: a batched append of the big book, ours (`append_many`) against pymerkle
(`SqliteTree.append_entries`), each into a fresh database, twice; and ours on PostgreSQL.

The databases of the last runs are kept: benchmarks 3 to 5 read them.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pymerkle import SqliteTree

from armory.ledger.entry import Draft
from armory.services.ledger import COMMIT_EVERY
from bench.common import (
    ACTORS,
    BOOK,
    BOOK_KIND,
    BOOK_NAME,
    Node,
    Row,
    Scale,
    Section,
    book_created_draft,
    entry_bytes,
    faster,
    fixed_clock,
    log,
    make_drafts,
    new_node,
    open_ledger,
    rate,
    remove,
    settle,
)

if TYPE_CHECKING:
    from bench.postgres import Postgres

RUNS = 2  # the machine is noisy: each system runs twice and both numbers are shown


@dataclass
class Run:
    seconds: float  # the append call alone: it returns once everything is committed
    close_seconds: float  # then closing the database
    size: int  # entries in the book afterwards, the first one included
    root: bytes
    file_bytes: int


@dataclass
class BigBooks:
    """The books the later benchmarks read: the same entries in all three."""

    sqlite: Node
    pymerkle: Path
    postgres: Node | None
    size: int
    root: bytes


def _database_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.iterdir() if path.is_file())


def _ours(node: Node, drafts: Sequence[Draft]) -> Run:
    ledger = open_ledger(node, fixed_clock)
    try:
        ledger.service.create_book(BOOK, BOOK_KIND, BOOK_NAME, ACTORS[0])
        start = time.perf_counter()
        appended = ledger.service.append_many(BOOK, drafts)
        seconds = time.perf_counter() - start
    finally:
        start = time.perf_counter()
        ledger.close()
        close_seconds = time.perf_counter() - start
    size = appended.checkpoint.size
    on_disk = _database_bytes(node.directory) if node.url.startswith("sqlite") else 0
    return Run(seconds, close_seconds, size, appended.checkpoint.root, on_disk)


def _pymerkle(path: Path, first: bytes, payload: list[bytes], want_root: bool) -> Run:
    tree = SqliteTree(str(path))
    # Entry 0 goes in beforehand, as ours records the book's creation before its timed append.
    tree.append_entry(first)
    start = time.perf_counter()
    size = tree.append_entries(payload)
    seconds = time.perf_counter() - start
    # Its root is recomputed from every leaf: only worth it once, and outside the timing.
    root = tree.get_root() if want_root else b""
    start = time.perf_counter()
    tree.close()
    close_seconds = time.perf_counter() - start
    return Run(seconds, close_seconds, size, root, path.stat().st_size)


def pymerkle_settings(path: Path) -> str:
    """pymerkle's SQLite settings as it runs them (it sets none: Python's sqlite3 defaults)."""
    tree = SqliteTree(str(path))
    try:
        journal = tree.con.execute("PRAGMA journal_mode").fetchone()
        synchronous = tree.con.execute("PRAGMA synchronous").fetchone()
    finally:
        tree.close()
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return f"journal_mode={journal}, synchronous={names.get(synchronous, synchronous)}"


def run(scale: Scale, work: Path, pg: Postgres | None) -> tuple[Section, BigBooks]:
    log(f"benchmark 1: building {scale.entries:,} drafts and pymerkle's byte strings")
    drafts = make_drafts(scale.entries)
    payload = entry_bytes(drafts, 1)
    first = entry_bytes([book_created_draft()], 0)[0]
    average = sum(map(len, payload)) / len(payload)
    log(
        f"  entries are {average:.0f} bytes on average ({min(map(len, payload))}-"
        f"{max(map(len, payload))})"
    )
    # The inputs are millions of long-lived objects: frozen, the cycle collector skips them,
    # so neither system pays for the harness's own heap.
    gc.collect()
    gc.freeze()

    ours: list[Run] = []
    theirs: list[Run] = []
    pg_runs: list[Run] = []
    kept: dict[str, Path] = {}
    pg_kept: Node | None = None
    try:
        for attempt in range(1, RUNS + 1):
            last = attempt == RUNS
            node = new_node(work / f"bulk-sqlite-{attempt}")
            settle(pg)
            log(f"benchmark 1: SQLite, ours, run {attempt}")
            ours.append(_ours(node, drafts))
            log(f"  {rate(scale.entries / ours[-1].seconds)} ({ours[-1].seconds:.2f} s)")
            path = work / f"bulk-pymerkle-{attempt}.db"
            settle(pg)
            log(f"benchmark 1: SQLite, pymerkle, run {attempt}")
            theirs.append(_pymerkle(path, first, payload, want_root=last))
            log(f"  {rate(scale.entries / theirs[-1].seconds)} ({theirs[-1].seconds:.2f} s)")
            if last:
                kept = {"sqlite": node.directory, "pymerkle": path}
            else:
                remove(node.directory)
                remove(path)
            if pg is not None:
                name = f"bulk_{attempt}"
                pg_node = new_node(work / f"bulk-pg-{attempt}", pg.create_database(name))
                settle(pg)
                log(f"benchmark 1: PostgreSQL, ours, run {attempt}")
                pg_runs.append(_ours(pg_node, drafts))
                log(f"  {rate(scale.entries / pg_runs[-1].seconds)}")
                if last:
                    pg_kept = pg_node
                else:
                    pg.drop_database(name)
    finally:
        del drafts, payload
        gc.unfreeze()
        gc.collect()
    settings = pymerkle_settings(kept["pymerkle"])

    best_ours = min(ours, key=lambda r: r.seconds)
    other_ours = max(ours, key=lambda r: r.seconds)
    best_theirs = min(theirs, key=lambda r: r.seconds)
    other_theirs = max(theirs, key=lambda r: r.seconds)
    n = scale.entries
    ratio = faster(best_ours.seconds, best_theirs.seconds)
    rows = [
        Row(
            "SQLite: better of 2 runs",
            rate(n / best_ours.seconds),
            rate(n / best_theirs.seconds),
            ratio,
            "ratio ≥ 1.0",
            ratio >= 1.0,
        ),
        Row(
            "SQLite: the other run",
            rate(n / other_ours.seconds),
            rate(n / other_theirs.seconds),
            faster(other_ours.seconds, other_theirs.seconds),
        ),
        Row(
            "SQLite: better run, until the database is closed",
            rate(n / (best_ours.seconds + best_ours.close_seconds)),
            rate(n / (best_theirs.seconds + best_theirs.close_seconds)),
            faster(
                best_ours.seconds + best_ours.close_seconds,
                best_theirs.seconds + best_theirs.close_seconds,
            ),
        ),
        Row(
            "SQLite: database size afterwards",
            f"{ours[-1].file_bytes / 2**20:,.0f} MiB",
            f"{theirs[-1].file_bytes / 2**20:,.0f} MiB",
        ),
    ]
    if pg_runs:
        best_pg = min(pg_runs, key=lambda r: r.seconds)
        other_pg = max(pg_runs, key=lambda r: r.seconds)
        rows += [
            Row("PostgreSQL (durable): better of 2 runs", rate(n / best_pg.seconds)),
            Row("PostgreSQL (durable): the other run", rate(n / other_pg.seconds)),
        ]
    else:
        rows.append(Row("PostgreSQL", "not run: no PostgreSQL server on this machine"))

    same_root = ours[-1].root == theirs[-1].root
    if theirs[-1].size != ours[-1].size:
        log(f"  WARNING: pymerkle holds {theirs[-1].size:,} entries, ours {ours[-1].size:,}")
    checks = [
        f"Our book holds {ours[-1].size:,} entries and pymerkle's {theirs[-1].size:,} (entry 0 "
        "records the book's creation and is written before the timing starts, in both).",
        "Our root equals pymerkle's root over the same bytes: "
        + ("yes." if same_root else "**NO: the two trees differ.**"),
    ]
    if pg_runs:
        checks.append(
            "The PostgreSQL book has the same root as the SQLite book: "
            + ("yes." if pg_runs[-1].root == ours[-1].root else "**NO.**")
        )
    if not same_root:
        log("  WARNING: our root and pymerkle's root differ")
    method = [
        f"A fresh database each run. Before the clock starts: {n:,} drafts are built "
        "(`Draft.of`, data canonicalised once), the book is created (entry 0), and pymerkle "
        "is given entry 0 and a list of the very byte strings our ledger will store "
        f"(average {average:.0f} bytes; our entries carry a fixed time, so they are known in "
        "advance). Timed: our `append_many(book, drafts)` (one transaction per "
        f"{COMMIT_EVERY:,} entries) against pymerkle's `append_entries(list)` (one "
        "transaction, hashed and inserted 100,000 at a time). Both calls return once "
        "everything is committed. The runs alternate ours, pymerkle, ours, pymerkle; the "
        "better run of each is compared with the better run of the other. The inputs are "
        "frozen out of Python's cycle collector (`gc.freeze()`), so neither system's time "
        "includes collections over the harness's own million objects.",
        "The two do not do the same work: ours stores every entry with its leaf hash and "
        "every interior node hash it completes (so proofs never recompute a subtree), on "
        "SQLite in WAL mode with synchronous=FULL and checkpoints of the log on a thread of "
        "its own; pymerkle stores the entry and its leaf hash only, with Python's sqlite3 "
        f"defaults ({settings}). 'Until the database is closed' adds the close: for ours the "
        "final checkpoint of the write-ahead log into the database file.",
        "PostgreSQL: ours only (pymerkle has no PostgreSQL store), on a local durable cluster "
        "(fsync and synchronous_commit on), into a fresh database each run.",
        "Before every timed run, PostgreSQL is asked for a CHECKPOINT and the kernel to write "
        "out its dirty pages (`sync`), so no run pays for the writes an earlier one left.",
    ]
    books = BigBooks(
        sqlite=Node(kept["sqlite"], f"sqlite:///{kept['sqlite'] / 'armory.db'}"),
        pymerkle=kept["pymerkle"],
        postgres=pg_kept,
        size=ours[-1].size,
        root=ours[-1].root,
    )
    return Section("1. Batched append", rows, method, checks), books
