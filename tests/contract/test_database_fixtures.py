"""The database fixtures give each test a working, empty, private database on every backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.pg_cluster import Cluster, fresh_postgres_database


def libpq(url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL, for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_each_backend_can_create_a_table_insert_and_select(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE firearm (id INTEGER PRIMARY KEY, name TEXT)"))
            conn.execute(sa.text("INSERT INTO firearm VALUES (1, 'revolver'), (2, 'rifle')"))
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, name FROM firearm ORDER BY id")).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [(1, "revolver"), (2, "rifle")]


def test_sqlite_url_is_a_new_file_in_the_tests_own_temporary_directory(
    sqlite_url: str, tmp_path: Path
) -> None:
    path = Path(make_url(sqlite_url).database or "")
    assert path.parent == tmp_path
    assert not path.exists()
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE box (label TEXT)")
        conn.execute("INSERT INTO box VALUES ('45 LONG COLT DUMMIES')")
        assert conn.execute("SELECT label FROM box").fetchall() == [("45 LONG COLT DUMMIES",)]
    assert path.is_file()


def test_postgres_url_is_an_empty_database_that_accepts_writes(postgres_url: str) -> None:
    with psycopg.connect(libpq(postgres_url)) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE box (label TEXT)")
        conn.execute("INSERT INTO box VALUES ('45 LONG COLT DUMMIES')")
        assert conn.execute("SELECT label FROM box").fetchall() == [("45 LONG COLT DUMMIES",)]


@pytest.mark.postgres
def test_each_postgres_database_is_private_and_dropped_afterwards(
    postgres_admin_url: str,
) -> None:
    with (
        fresh_postgres_database(postgres_admin_url) as first,
        fresh_postgres_database(postgres_admin_url) as second,
    ):
        names = {make_url(first).database, make_url(second).database}
        assert len(names) == 2
        # An open session must not keep the database from being dropped.
        lingering = psycopg.connect(libpq(first))
    with psycopg.connect(libpq(postgres_admin_url)) as admin:
        left = admin.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s)", [list(names)]
        ).fetchall()
    lingering.close()
    assert left == []


def test_a_durable_cluster_keeps_fsync_on_and_survives_a_crash(
    durable_postgres_cluster: Cluster,
) -> None:
    url = libpq(durable_postgres_cluster.admin_url)
    with psycopg.connect(url, autocommit=True) as conn:
        settings = conn.execute(
            "SELECT name, setting FROM pg_settings"
            " WHERE name IN ('fsync', 'synchronous_commit') ORDER BY name"
        ).fetchall()
        conn.execute("CREATE TABLE acknowledged (n INTEGER)")
        conn.execute("INSERT INTO acknowledged VALUES (1)")
    assert settings == [("fsync", "on"), ("synchronous_commit", "on")]

    # An immediate stop is a crash as far as the data directory knows: no shutdown checkpoint.
    data_dir = str(durable_postgres_cluster.data_dir)
    durable_postgres_cluster.run("pg_ctl", "-D", data_dir, "-m", "immediate", "-w", "stop")
    durable_postgres_cluster.start()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT n FROM acknowledged").fetchall() == [(1,)]
