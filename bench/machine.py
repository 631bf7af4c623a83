"""The machine and software a run measured, for the report's header."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
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
        ("Kernel", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("SQLite", sqlite3.sqlite_version),
        ("PostgreSQL", postgres),
        ("pymerkle", _version("pymerkle")),
        ("SQLAlchemy / psycopg", f"{_version('sqlalchemy')} / {_version('psycopg')}"),
    ]
