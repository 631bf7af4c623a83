"""Run every benchmark once and write the report: `python -m bench [--quick] [--out FILE]`.

--quick runs at a small scale to test the harness itself, and writes to a temporary file
unless --out says where. Databases go to a temporary directory, removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench import (
    bulk_append,
    bundles,
    http_load,
    machine,
    postgres,
    proofs,
    protocol,
    report,
    single_append,
    verify_book,
)
from bench.common import FULL, QUICK, REPO, Section, log, remove

DEFAULT_OUT = REPO / "docs" / "benchmarks.md"


def _command(argv: list[str]) -> str:
    executable = sys.executable
    if Path(executable).is_relative_to(Path.cwd()):
        executable = os.path.relpath(executable)
    return shlex.join([executable, "-m", "bench", *argv])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small smoke run of the harness")
    parser.add_argument("--out", type=Path, help="where to write the report")
    parser.add_argument("--no-postgres", action="store_true", help="leave PostgreSQL out")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    if args.out is not None:
        out = args.out
    elif args.quick:
        out = Path(tempfile.mkstemp(prefix="armory-bench-quick-", suffix=".md")[1])
    else:
        out = DEFAULT_OUT

    started = datetime.now(UTC)
    clock = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="armory-bench-"))
    log(f"{'quick' if args.quick else 'full'} run, {scale.entries:,} entries, working in {work}")
    pg: postgres.Postgres | None = None
    pg_note = "left out (--no-postgres)"
    try:
        if not args.no_postgres:
            log("starting a durable PostgreSQL cluster")
            started_pg = postgres.start()
            if isinstance(started_pg, str):
                pg_note = f"not available: {started_pg}"
                log(f"  {pg_note}")
            else:
                pg = started_pg
                settings = ", ".join(f"{k}={v}" for k, v in sorted(pg.settings.items()))
                pg_note = f"{pg.version} (a throwaway local cluster: {settings})"
        described = machine.describe(work, pg_note)
        ticks_before = machine.cpu_ticks()
        load_before = machine.load()
        if load_before > 0.5:
            log(f"  note: the machine is already busy (load average {load_before:.2f})")
        sections: list[Section] = []
        bulk, books = bulk_append.run(scale, work, pg)
        sections.append(bulk)
        sections.append(single_append.run(scale, work, pg))
        sections.append(proofs.run(scale, books))
        sections.append(bundles.run(books, work))
        sections.append(verify_book.run(books))
        sections.append(protocol.run(scale, work, pg))
        sections.append(http_load.run(scale, work, pg))
    finally:
        if pg is not None:
            pg.stop()
        remove(work)
    seconds = time.perf_counter() - clock
    # Other work on the machine slows every number: the report says how busy it was.
    described.append(
        (
            "Load average (1 min)",
            f"{load_before:.2f} at the start of the run, {machine.load():.2f} at its end",
        )
    )
    described.append(
        ("Stolen by the hypervisor", machine.stolen_share(ticks_before, machine.cpu_ticks()))
    )
    text = report.render(
        sections=sections,
        machine=described,
        command=_command(argv),
        started=started,
        seconds=seconds,
        peer=f"pymerkle {metadata.version('pymerkle')}",
        quick=args.quick,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    log(f"done in {seconds / 60:.1f} min; report written to {out}")
    for section in sections:
        for row in section.rows:
            if row.met is False:
                log(
                    f"  target not met: {section.title}: {row.measure}: {row.ours} "
                    f"(target {row.target})"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
