"""The machine and software a run measured, for the report's header."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import statistics
import time
from importlib import metadata
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def load() -> float:
    """The 1-minute load average: above zero, something else was running too."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def cpu_ticks() -> tuple[int, int] | None:
    """(stolen, all) CPU ticks since boot (/proc/stat): on a virtual machine, the hypervisor
    gives the time it steals to other guests, and every number of the run is slower for it."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        ticks = [int(value) for value in fields]
    except (OSError, ValueError, IndexError):
        return None
    steal = ticks[7] if len(ticks) > 7 else 0
    return steal, sum(ticks[:8])


def stolen_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> str:
    """The share of CPU time stolen between two `cpu_ticks` readings, in words."""
    if before is None or after is None or after[1] <= before[1]:
        return "unknown"
    share = (after[0] - before[0]) / (after[1] - before[1])
    return f"{share:.1%} of the CPU time during the run"


def durable_writes(work: Path, count: int = 300) -> str:
    """How fast the disk makes a small write durable: 4 KiB appended, then fdatasync, as a
    commit in SQLite's WAL with synchronous=FULL does. Its rate bounds the appends per second
    of one entry per durable transaction (benchmark 2)."""
    path = work / "fdatasync-probe"
    times = []
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        block = b"\0" * 4096
        for _ in range(count):
            start = time.perf_counter()
            os.write(descriptor, block)
            os.fdatasync(descriptor)
            times.append(time.perf_counter() - start)
    finally:
        os.close(descriptor)
        path.unlink(missing_ok=True)
    return (
        f"{count / sum(times):,.0f} per second, median {statistics.median(times) * 1000:.2f} ms "
        "(4 KiB appended then fdatasync, where the databases were written)"
    )


def describe(work: Path, postgres: str) -> list[tuple[str, str]]:
    disk = shutil.disk_usage(work)
    return [
        ("CPU", _cpu_model()),
        ("Cores", f"{os.cpu_count()} logical CPUs"),
        ("Memory", _memory()),
        (
            "Disk free",
            f"{disk.free / 2**30:,.0f} GiB of {disk.total / 2**30:,.0f} GiB "
            f"(where the databases were written, at the start)",
        ),
        ("Durable small writes", durable_writes(work)),
        ("Kernel", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("SQLite", sqlite3.sqlite_version),
        ("PostgreSQL", postgres),
        ("pymerkle", _version("pymerkle")),
        ("SQLAlchemy / psycopg", f"{_version('sqlalchemy')} / {_version('psycopg')}"),
    ]
