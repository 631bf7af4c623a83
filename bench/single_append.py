"""Benchmark 2: one entry per durable transaction, as a command appends it.

Ours: `append(book, [draft])` in a loop; pymerkle: `append_entry(bytes)`, which commits each
entry (its default). Each loop stops at its count or its time limit, whichever comes first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pymerkle import SqliteTree

from bench.common import (
    ACTORS,
    BOOK,
    BOOK_KIND,
    BOOK_NAME,
    Node,
    Row,
    Scale,
    Section,
    entry_bytes,
    log,
    make_drafts,
    median,
    ms,
    new_node,
    open_ledger,
    percentile,
    rate,
    settle,
)

if TYPE_CHECKING:
    from bench.postgres import Postgres

TARGET = 4000  # appends per second, ours

Item = TypeVar("Item")


class Loop:
    """Latencies of a loop of appends, and the wall time of the whole loop."""

    def __init__(self, latencies: list[float], seconds: float) -> None:
        self.latencies = latencies
        self.seconds = seconds

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def _loop(items: Sequence[Item], append: Callable[[Item], object], limit: float) -> Loop:
    latencies = []
    clock = time.perf_counter
    start = clock()
    deadline = start + limit
    for item in items:
        before = clock()
        append(item)
        after = clock()
        latencies.append(after - before)
        if after >= deadline:
            break
    return Loop(latencies, clock() - start)


def _ours(node: Node, scale: Scale) -> Loop:
    drafts = make_drafts(scale.single_ours, seed=2)
    ledger = open_ledger(node)  # the real clock: each append reads it, as in service
    try:
        ledger.service.create_book(BOOK, BOOK_KIND, BOOK_NAME, ACTORS[0])
        append = ledger.service.append
        return _loop(drafts, lambda draft: append(BOOK, [draft]), scale.single_seconds)
    finally:
        ledger.close()


def _pymerkle(path: Path, scale: Scale) -> Loop:
    payload = entry_bytes(make_drafts(scale.single_pymerkle, seed=2), 1)
    tree = SqliteTree(str(path))
    try:
        return _loop(payload, tree.append_entry, scale.single_seconds)
    finally:
        tree.close()


def _describe(loop: Loop) -> str:
    return f"{rate(loop.rate)} ({loop.count:,} in {loop.seconds:.1f} s)"


def run(scale: Scale, work: Path, pg: Postgres | None) -> Section:
    settle(pg)
    log(f"benchmark 2: SQLite, ours, up to {scale.single_ours:,} appends")
    ours = _ours(new_node(work / "single-sqlite"), scale)
    log(f"  {_describe(ours)}")
    settle(pg)
    log(f"benchmark 2: SQLite, pymerkle, up to {scale.single_pymerkle:,} appends")
    theirs = _pymerkle(work / "single-pymerkle.db", scale)
    log(f"  {_describe(theirs)}")
    rows = [
        Row(
            "SQLite: appends per second",
            _describe(ours),
            _describe(theirs),
            ours.rate / theirs.rate,
            f"≥ {TARGET:,} entries/s",
            ours.rate >= TARGET,
        ),
        Row(
            "SQLite: latency of one append, median",
            ms(median(ours.latencies)),
            ms(median(theirs.latencies)),
            median(theirs.latencies) / median(ours.latencies),
        ),
        Row(
            "SQLite: latency of one append, p99",
            ms(percentile(ours.latencies, 0.99)),
            ms(percentile(theirs.latencies, 0.99)),
            percentile(theirs.latencies, 0.99) / percentile(ours.latencies, 0.99),
        ),
    ]
    if pg is not None:
        settle(pg)
        log(f"benchmark 2: PostgreSQL, ours, up to {scale.single_ours:,} appends")
        pg_ours = _ours(new_node(work / "single-pg", pg.create_database("single")), scale)
        log(f"  {_describe(pg_ours)}")
        rows += [
            Row("PostgreSQL (durable): appends per second", _describe(pg_ours)),
            Row("PostgreSQL (durable): latency, median", ms(median(pg_ours.latencies))),
            Row("PostgreSQL (durable): latency, p99", ms(percentile(pg_ours.latencies, 0.99))),
        ]
    else:
        rows.append(Row("PostgreSQL", "not run: no PostgreSQL server on this machine"))
    method = [
        "A fresh database and book for each system. Ours: `append(book, [draft])` in a loop, "
        f"up to {scale.single_ours:,} appends or {scale.single_seconds:.0f} s, whichever comes "
        "first; each call is one transaction that commits durably (SQLite: WAL with "
        "synchronous=FULL; PostgreSQL: fsync and synchronous_commit on) and returns a signed "
        f"checkpoint. pymerkle: `append_entry(bytes)` in a loop, up to "
        f"{scale.single_pymerkle:,} appends or {scale.single_seconds:.0f} s; each call "
        "commits one row (its default, Python's sqlite3 defaults: rollback journal, "
        "synchronous=FULL). The rate is appends over the loop's wall time; the latencies are "
        "of each call alone. The drafts (and pymerkle's bytes, of the same length) are built "
        "before the loop. Before each loop, PostgreSQL checkpoints and the kernel writes out "
        "its dirty pages, as in benchmark 1.",
    ]
    return Section("2. One entry per durable transaction", rows, method)
