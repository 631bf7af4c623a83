"""Database fixtures shared by every test folder: SQLite and a throwaway PostgreSQL.

`database_url` runs a test once per storage backend. PostgreSQL tests get a fresh database each,
on one cluster started for the whole session (or on the server named by ARMORY_TEST_PG_URL).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.pg_cluster import Cluster, fresh_postgres_database, start_cluster_for_tests

# Fixtures that need a PostgreSQL server; `database_url` marks its own PostgreSQL case.
POSTGRES_FIXTURES = frozenset({"postgres_admin_url", "durable_postgres_cluster"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the PostgreSQL server, so `-m "not postgres"` leaves it out."""
    for item in items:
        if POSTGRES_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """SQLAlchemy URL of a superuser's connection to the session's PostgreSQL server."""
    configured = os.environ.get("ARMORY_TEST_PG_URL")
    if configured:
        yield (
            make_url(configured)
            .set(drivername="postgresql+psycopg")
            .render_as_string(hide_password=False)
        )
        return
    cluster = start_cluster_for_tests(durable=False)
    yield cluster.admin_url
    cluster.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of a new SQLite file in the test's own temporary directory."""
    return f"sqlite:///{tmp_path / 'armory.db'}"


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """SQLAlchemy URL of a new, empty PostgreSQL database, dropped after the test."""
    with fresh_postgres_database(postgres_admin_url) as url:
        yield url


@pytest.fixture(
    params=[
        pytest.param("sqlite_url", id="sqlite"),
        pytest.param("postgres_url", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """A new, empty database on each storage backend in turn, as a SQLAlchemy URL."""
    # Looked up only for the backend in use, so SQLite tests never start PostgreSQL.
    url: str = request.getfixturevalue(request.param)
    return url


@pytest.fixture
def durable_postgres_cluster() -> Iterator[Cluster]:
    """A cluster of the test's own with fsync and synchronous_commit on, for crash tests.

    The test may kill its server and call `start()` again; the cluster is removed afterwards.
    """
    cluster = start_cluster_for_tests(durable=True)
    yield cluster
    cluster.stop()
