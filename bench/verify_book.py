"""Benchmark 5: `armory verify --book` on the big SQLite book, as an operator runs it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.bulk_append import BigBooks
from bench.common import BOOK, REPO, Row, Section, child_env, log, secs


def run(books: BigBooks) -> Section:
    armory = Path(sys.executable).parent / "armory"
    command = [str(armory), "verify", "--book", BOOK, "--data-dir", str(books.sqlite.directory)]
    log("benchmark 5: armory verify --book")
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=REPO, env=child_env(), capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    log(f"  {seconds:.2f} s: {done.stdout.strip()[:120]}")
    if done.returncode != 0 or not done.stdout.startswith(f"OK: book {BOOK}: "):
        raise RuntimeError(f"armory verify --book failed: {done.stdout}{done.stderr}")
    rows = [Row("`armory verify --book` (new process)", secs(seconds))]
    method = [
        "After benchmark 4 (so the book holds one more entry, the export's record), "
        f"`armory verify --book {BOOK} --data-dir DIR` runs as a new process and is timed from "
        "start to exit: interpreter start-up, opening the database, then reading every entry, "
        "checking that it is canonical and in place, recomputing its leaf and interior hashes "
        "against the stored ones, and checking every kept signed checkpoint against the "
        "recomputed roots. pymerkle has no equivalent command.",
    ]
    return Section(
        "5. Verifying the big book in the database",
        rows,
        method,
        [f"It printed: `{done.stdout.strip()}`"],
    )
