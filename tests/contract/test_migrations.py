"""The schema's migrations: the head the code expects, and upgrades on both databases, with what
an earlier release left in them."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from armory.adapters.sql.schema import (
    HEAD_REVISION,
    MIGRATIONS,
    WRITE_OPTION,
    _known_revisions,
    current_revision,
    make_engine,
    migrate,
)
from armory.adapters.sql.store import SqlLedgerStore
from armory.errors import StorageError


def test_the_head_revision_the_code_expects_is_the_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_a_new_database_is_migrated_to_the_head_once(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        migrate(engine)
        assert current_revision(engine) == HEAD_REVISION
        migrate(engine)  # a second time does nothing
        assert current_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()


def _upgrade_to(engine: Engine, revision: str) -> None:
    """Bring a new database to an older `revision`, as an earlier release left it."""
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
        command.upgrade(_config(connection), revision)
        connection.commit()


def _two_books(connection: Connection) -> None:
    """The books "western" (number 1) and "heist" (number 2), as rows of any revision."""
    for number, book in ((1, "western"), (2, "heist")):
        connection.execute(
            text(
                "INSERT INTO books (no, id, kind, name, created_at) "
                "VALUES (:no, :id, 'production', :name, '2026-12-01T09:00:00.000Z')"
            ),
            {"no": number, "id": book, "name": book.title()},
        )


def test_checkpoints_kept_by_book_and_size_are_kept_by_position_after_the_upgrade(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        _upgrade_to(engine, "0003")
        with engine.begin() as connection:
            _two_books(connection)
            for book, size in (("western", 1), ("western", 7), ("heist", 1), ("heist", 2)):
                connection.execute(
                    text("INSERT INTO checkpoints (book, size, note) VALUES (:b, :s, :n)"),
                    {"b": book, "s": size, "n": f"{book} at {size}\n"},
                )
        migrate(engine)
        assert current_revision(engine) == HEAD_REVISION
        store = SqlLedgerStore(engine)
        try:
            assert list(store.checkpoints("western")) == [
                (1, "western at 1\n"),
                (7, "western at 7\n"),
            ]
            assert list(store.checkpoints("heist")) == [(1, "heist at 1\n"), (2, "heist at 2\n")]
            assert list(store.checkpoints("nobody")) == []
        finally:
            store.close()
    finally:
        engine.dispose()


def _config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _item_table_sql(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'item_entries'")
            ).scalar_one()
        )


def test_the_item_index_keeps_its_pairs_through_the_upgrade_and_back(database_url: str) -> None:
    engine = make_engine(database_url)
    sqlite = engine.dialect.name == "sqlite"
    pairs = [
        ("western", "F01", 3),
        ("western", "F01", 9),
        ("western", "B7", 4),
        ("heist", "F01", 2),
    ]
    try:
        _upgrade_to(engine, "0004")
        with engine.begin() as connection:
            _two_books(connection)
            for book, item, idx in pairs:
                connection.execute(
                    text("INSERT INTO item_entries (book, item, idx) VALUES (:b, :i, :x)"),
                    {"b": book, "i": item, "x": idx},
                )
        if sqlite:
            assert "WITHOUT ROWID" not in _item_table_sql(engine)
        migrate(engine)
        assert current_revision(engine) == HEAD_REVISION
        if sqlite:
            assert _item_table_sql(engine).endswith("WITHOUT ROWID")
        store = SqlLedgerStore(engine)
        try:
            assert store.entries_naming("western", "F01") == [3, 9]
            assert store.entries_naming("western", "B7") == [4]
            assert store.entries_naming("heist", "F01") == [2]
        finally:
            store.close()

        with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
            command.downgrade(_config(connection), "0004")
            connection.commit()
        assert current_revision(engine) == "0004"
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT book, item, idx FROM item_entries")).all()
        assert sorted(tuple(row) for row in kept) == sorted(pairs)
        if sqlite:
            assert "WITHOUT ROWID" not in _item_table_sql(engine)
    finally:
        engine.dispose()


def test_a_database_prepared_by_a_newer_version_is_refused_in_one_clear_line(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9001'"))
        with pytest.raises(StorageError) as refused:
            migrate(engine)
        assert str(refused.value) == (
            f"the database's schema is at revision 9001, which this version of Armory does not "
            f"know (it knows up to {HEAD_REVISION}): a newer Armory prepared it; open it with "
            "that version or a later one"
        )
        assert current_revision(engine) == "9001"  # left as it was
    finally:
        engine.dispose()


def test_every_migration_file_is_a_revision_the_code_knows() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    revisions = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    assert revisions == _known_revisions()
    assert HEAD_REVISION in revisions
