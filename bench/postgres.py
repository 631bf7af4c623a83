"""A throwaway, durable PostgreSQL cluster for the PostgreSQL half of the benchmarks.

Durable: fsync and synchronous_commit stay on, so a commit is on disk when it returns, as on
a production server. The cluster and every database in it are deleted when the run ends.
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from tests.pg_cluster import Cluster, PostgresNotInstalledError, start_cluster


class Postgres:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._conninfo = f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            settings = conn.execute(
                "SELECT name, setting FROM pg_settings "
                "WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method')"
            ).fetchall()
        self.version = str(row[0]) if row else "unknown"
        self.settings = {str(name): str(value) for name, value in settings}

    def create_database(self, name: str) -> str:
        """Create an empty database; its SQLAlchemy URL."""
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.cluster.port}/{name}"

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))

    def checkpoint(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute("CHECKPOINT")

    def stop(self) -> None:
        self.cluster.stop()


def start() -> Postgres | str:
    """A running durable cluster, or why there is none."""
    try:
        cluster = start_cluster(durable=True)
    except PostgresNotInstalledError as absent:
        return str(absent)
    try:
        return Postgres(cluster)
    except BaseException:
        cluster.stop()
        raise
