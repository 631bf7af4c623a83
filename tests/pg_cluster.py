"""Throwaway PostgreSQL clusters for the tests: initdb into a fresh directory, start on a free port.

Debian installs the server binaries under /usr/lib/postgresql/<version>/bin, off PATH, and leaves
its packaged cluster down, so the tests bring their own. initdb and pg_ctl refuse to run as root;
as root they run as the `postgres` user, in a directory under /tmp that user can reach.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

DEBIAN_SERVER_ROOT = Path("/usr/lib/postgresql")
NOT_INSTALLED = "PostgreSQL not installed: apt-get install postgresql, or set ARMORY_TEST_PG_URL"

# Settings that make a disposable cluster fast. A cluster that must survive a crash keeps the
# defaults (fsync and synchronous_commit on): only then does an acknowledged commit reach the disk.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off")


class PostgresNotInstalledError(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def server_bin_dir() -> Path | None:
    """The bin directory of the newest installed PostgreSQL server, or None."""
    versions = [p for p in DEBIAN_SERVER_ROOT.glob("*/bin") if (p / "pg_ctl").is_file()]
    if versions:
        return max(versions, key=lambda p: tuple(int(n) for n in p.parent.name.split(".")))
    # Elsewhere (a developer's own build, Homebrew) the server binaries are usually on PATH.
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Cluster:
    """A running cluster in `directory` (data in `directory/data`), reachable on 127.0.0.1:port."""

    directory: Path
    port: int
    bin_dir: Path
    durable: bool
    as_postgres_user: bool

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL of the `postgres` database, as the `postgres` superuser."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    def run(self, tool: str, *args: str, check: bool = True) -> None:
        """Run a server tool as the user that owns the cluster; a failure says what went wrong."""
        command = [str(self.bin_dir / tool), *args]
        if self.as_postgres_user:
            command = ["runuser", "-u", "postgres", "--", *command]
        # cwd: the caller's directory may be closed to the postgres user, which makes tools warn.
        result = subprocess.run(
            command, cwd=self.directory, capture_output=True, text=True, check=False
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{tool} failed (exit {result.returncode}): {result.stdout}{result.stderr}"
                f"{self.log_tail()}"
            )

    def log_tail(self) -> str:
        log = self.directory / "server.log"
        if not log.exists():
            return ""
        return "\nserver log:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])

    def start(self) -> None:
        """Start the server on the existing data directory (also after a crash) and wait for it."""
        options = [
            f"-p {self.port}",
            f"-k {self.directory}",
            "-c listen_addresses=127.0.0.1",
            "-c max_connections=200",
        ]
        if not self.durable:
            options += [f"-c {setting}" for setting in FAST_SETTINGS]
        # -l: the server must not inherit our pipes, or reading its output would never end.
        log = str(self.directory / "server.log")
        self.run(
            "pg_ctl", "-D", str(self.data_dir), "-l", log, "-w", "-o", " ".join(options), "start"
        )

    def stop(self) -> None:
        """Stop the server without a shutdown checkpoint and delete every file of the cluster."""
        if (self.data_dir / "postmaster.pid").exists():
            # Unchecked: a server that already died (a crash test) leaves a stale pid file.
            self.run(
                "pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop", check=False
            )
        shutil.rmtree(self.directory, ignore_errors=True)


def start_cluster(durable: bool) -> Cluster:
    """Create and start a new cluster; `durable` keeps fsync and synchronous_commit on.

    Raises PostgresNotInstalledError when the server binaries are absent.
    """
    bin_dir = server_bin_dir()
    if bin_dir is None:
        raise PostgresNotInstalledError(NOT_INSTALLED)
    as_postgres_user = os.geteuid() == 0
    # /tmp rather than the default temp dir: root's TMPDIR may be closed to the postgres user.
    directory = Path(tempfile.mkdtemp(prefix="armory-pg-", dir="/tmp"))
    if as_postgres_user:
        shutil.chown(directory, "postgres", "postgres")
    cluster = Cluster(directory, free_port(), bin_dir, durable, as_postgres_user)
    try:
        initdb = ["-D", str(cluster.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
        initdb += ["--locale=C.UTF-8", *([] if durable else ["--no-sync"])]
        cluster.run("initdb", *initdb)
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def start_cluster_for_tests(durable: bool) -> Cluster:
    """start_cluster, or skip the test when PostgreSQL is absent.

    With ARMORY_REQUIRE_POSTGRES=1 (as `make test` sets) an absent PostgreSQL fails the test:
    a run that was meant to cover PostgreSQL must not pass without it.
    """
    try:
        return start_cluster(durable)
    except PostgresNotInstalledError as absent:
        reason = str(absent)
    # Outside the except block, so the report shows the reason alone, not a chained traceback.
    if os.environ.get("ARMORY_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason} (ARMORY_REQUIRE_POSTGRES=1 is set)", pytrace=False)
    pytest.skip(reason)


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """Create an empty database, yield its SQLAlchemy URL, then drop it with any open sessions."""
    admin = make_url(admin_url)
    name = f"t_{secrets.token_hex(8)}"
    # psycopg takes a libpq URL: the same one without SQLAlchemy's "+psycopg" driver suffix.
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
            conn.execute(drop)
