"""The schema's migrations: the head the code expects, and upgrades on both databases."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory

from armory.adapters.sql.schema import (
    HEAD_REVISION,
    MIGRATIONS,
    current_revision,
    make_engine,
    migrate,
)


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
