"""An attacker with the database in hand: every rewrite of a book is caught, and named.

The attacker connects to the database directly, switches off the append-only triggers and
edits, deletes, reorders, inserts or truncates entries, or rewrites an entry and recomputes every
hash after it. `armory verify --book` must then exit 1 with one `FAIL:` line naming the first
entry that no longer holds; evidence bundles exported earlier keep verifying, and a bundle
exported after the rewrite does not extend a checkpoint held from before it.
"""

from __future__ import annotations

import json
import random
import secrets
import shutil
import sqlite3
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import make_url

from armory.ledger.merkle import Frontier, leaf_hash
from tests.e2e.conftest import NODE_NAME, ArmoryForks, ArmoryNode, one_line
from tests.pg_cluster import fresh_postgres_database

BOOK = "demo"
NOTES = 50  # entries appended after the book's creation, one transaction each
SIZE = NOTES + 2  # with the book's creation first and the export of OLD.zip last
INDEX_BITS = 40  # entries.pos = books.no << 40 | index (src/armory/adapters/sql/tables.py)


@dataclass(frozen=True)
class Pristine:
    """A book of SIZE entries with a checkpoint kept at every size, and what left the node."""

    node: ArmoryNode
    admin_url: str | None  # PostgreSQL: where to clone the database from; None for SQLite
    old_bundle: Path  # exported at size SIZE, before any attack
    vkey: Path  # the node's verifier key, as `armory key` printed it


def build_book(node: ArmoryNode, outside: Path) -> Pristine:
    node("init", "--node-name", NODE_NAME)
    node("book", "create", BOOK, "--kind", "production", "--name", "Demo")
    notes = "".join(
        json.dumps({"type": "note", "data": {"text": f"box {n} counted", "n": n}}) + "\n"
        for n in range(NOTES)
    )
    # One transaction per entry: the node keeps a signed checkpoint at every size.
    appended = node("append", BOOK, "-", "--each", "--as", "ana", input=notes)
    assert appended.stdout.split() == [str(n) for n in range(1, NOTES + 1)]
    old_bundle = outside / "OLD.zip"
    node("export", BOOK, "-o", str(old_bundle), "--case", "before")
    vkey = outside / "node.vkey"
    vkey.write_text(node("key").stdout, encoding="utf-8")
    return Pristine(node, None, old_bundle, vkey)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ],
)
def pristine(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    armory_forks: ArmoryForks,
) -> Iterator[Pristine]:
    """The book before any attack, built once per backend and cloned for each test."""
    outside = tmp_path_factory.mktemp(f"pristine-{request.param}")
    data_dir = outside / "data"
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'armory.db'}"
        yield build_book(ArmoryNode(data_dir, url, armory_forks), outside)
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    with fresh_postgres_database(admin_url) as url:
        built = build_book(ArmoryNode(data_dir, url, armory_forks), outside)
        yield replace(built, admin_url=admin_url)


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def postgres_clone(admin_url: str, template_url: str) -> Iterator[str]:
    """A new database copied from the one at `template_url`, dropped afterwards."""
    name = f"t_{secrets.token_hex(8)}"
    template = make_url(template_url).database
    assert template is not None
    with psycopg.connect(libpq(admin_url), autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    try:
        yield make_url(template_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq(admin_url), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def victim(pristine: Pristine, tmp_path: Path) -> Iterator[ArmoryNode]:
    """A node of the test's own holding a copy of the pristine book."""
    data_dir = tmp_path / "data"
    shutil.copytree(pristine.node.data_dir, data_dir)
    if pristine.admin_url is None:
        yield replace(
            pristine.node, data_dir=data_dir, database_url=f"sqlite:///{data_dir}/armory.db"
        )
        return
    with postgres_clone(pristine.admin_url, pristine.node.database_url) as url:
        yield replace(pristine.node, data_dir=data_dir, database_url=url)


# --- The attacker ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    pos: int
    body: bytes
    hashes: bytes


class Attacker:
    """Direct SQL on the book's entries, the append-only triggers switched off."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("DROP TRIGGER entries_no_update")
            connection.exec_driver_sql("DROP TRIGGER entries_no_delete")
        else:
            connection.exec_driver_sql("ALTER TABLE entries DISABLE TRIGGER USER")
        number = connection.execute(
            sa.text("SELECT no FROM books WHERE id = :book"), {"book": BOOK}
        ).scalar_one()
        self.base = int(number) << INDEX_BITS

    def rows(self) -> list[Row]:
        found = self.connection.execute(
            sa.text(
                "SELECT pos, body, hashes FROM entries WHERE pos >= :low AND pos < :high "
                "ORDER BY pos"
            ),
            {"low": self.base, "high": self.base + (1 << INDEX_BITS)},
        ).all()
        return [Row(int(r.pos), bytes(r.body), bytes(r.hashes)) for r in found]

    def row(self, index: int) -> Row:
        return self.rows()[index]

    def write(self, index: int, body: bytes, hashes: bytes) -> None:
        self.connection.execute(
            sa.text("UPDATE entries SET body = :body, hashes = :hashes WHERE pos = :pos"),
            {"body": body, "hashes": hashes, "pos": self.base + index},
        )

    def delete_from(self, index: int, end: int | None = None) -> None:
        self.connection.execute(
            sa.text("DELETE FROM entries WHERE pos >= :low AND pos < :high"),
            {"low": self.base + index, "high": self.base + (SIZE if end is None else end)},
        )

    def move(self, index: int, to: int) -> None:
        self.connection.execute(
            sa.text("UPDATE entries SET pos = :to WHERE pos = :pos"),
            {"to": self.base + to, "pos": self.base + index},
        )

    def insert(self, index: int, body: bytes, hashes: bytes) -> None:
        self.connection.execute(
            sa.text("INSERT INTO entries (pos, body, hashes) VALUES (:pos, :body, :hashes)"),
            {"pos": self.base + index, "body": body, "hashes": hashes},
        )

    def rehash(self) -> None:
        """Recompute every entry's leaf and interior hashes from the bodies as they now are."""
        frontier = Frontier()
        for index, row in enumerate(self.rows()):
            completed = frontier.append(leaf_hash(row.body))
            if completed != row.hashes:
                self.write(index, row.body, completed)


@contextmanager
def attacker(database_url: str) -> Iterator[Attacker]:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            yield Attacker(connection)
    finally:
        engine.dispose()


def canonical(value: object) -> bytes:
    """RFC 8785 for the plain ASCII objects used here: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def reattributed(body: bytes) -> bytes:
    """The same entry, with another person recorded as having made it."""
    edited = body.replace(b'"actor":"ana"', b'"actor":"eve"')
    assert edited != body
    return edited


# Each attack does its damage and returns the index `verify --book` must name, and words its
# reason must contain.
Attack = Callable[[Attacker], tuple[int, tuple[str, ...]]]


def edit_a_body(db: Attacker) -> tuple[int, tuple[str, ...]]:
    row = db.row(17)
    db.write(17, reattributed(row.body), row.hashes)
    return 17, ("entry 17 ", "edited")


def delete_an_entry(db: Attacker) -> tuple[int, tuple[str, ...]]:
    db.delete_from(25, 26)
    return 25, ("entry 25 ", "missing")


def swap_two_entries(db: Attacker) -> tuple[int, tuple[str, ...]]:
    first, second = db.row(10), db.row(20)
    db.write(10, second.body, second.hashes)
    db.write(20, first.body, first.hashes)
    return 10, ("entry 10 ", "says it is entry 20", "moved")


def insert_an_entry(db: Attacker) -> tuple[int, tuple[str, ...]]:
    """Slip a made-up entry in at index 33: move every later row up one, then fill the gap with
    a well-formed entry whose hashes continue the tree correctly. Only the checkpoint the node
    signed when the book had 34 entries still remembers what entry 33 was."""
    rows = db.rows()
    for index in reversed(range(33, len(rows))):
        db.move(index, index + 1)
    forged = json.loads(rows[33].body)
    forged["data"] = {"text": "box 99 returned to the rental house", "n": 99}
    body = canonical(forged)
    frontier = Frontier()
    for row in rows[:33]:
        frontier.append(leaf_hash(row.body))
    db.insert(33, body, frontier.append(leaf_hash(body)))
    return 33, ("signed at size 34", "rewritten")


def rewrite_with_hashes(db: Attacker) -> tuple[int, tuple[str, ...]]:
    """Edit entry 30 and recompute every hash after it: each row matches its own hashes, so
    only the checkpoints the node signed along the way can tell."""
    row = db.row(30)
    db.write(30, reattributed(row.body), row.hashes)
    db.rehash()
    return 30, ("signed at size 31", "rewritten")


def truncate_the_tail(db: Attacker) -> tuple[int, tuple[str, ...]]:
    db.delete_from(45)
    return 45, ("signed at size 46", "only 45 entries", "removed")


@pytest.mark.parametrize(
    "attack",
    [
        edit_a_body,
        delete_an_entry,
        swap_two_entries,
        insert_an_entry,
        rewrite_with_hashes,
        truncate_the_tail,
    ],
    ids=["edit", "delete", "swap", "insert", "rewrite-with-hashes", "truncate"],
)
def test_verify_book_names_the_first_entry_an_attacker_changed(
    victim: ArmoryNode, attack: Attack
) -> None:
    assert victim("verify", "--book", BOOK).stdout.startswith(f"OK: book {BOOK}: {SIZE} entries")
    with attacker(victim.database_url) as db:
        first_bad, reason = attack(db)
    result = victim("verify", "--book", BOOK, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    line = one_line(result.stderr)
    assert line.startswith("FAIL: ")
    assert line.endswith(f"(first bad entry: {first_bad})")
    for words in reason:
        assert words in line


@pytest.mark.parametrize(
    "attack", [edit_a_body, rewrite_with_hashes], ids=["edit", "rewrite-with-hashes"]
)
def test_a_bundle_exported_after_a_rewrite_does_not_extend_one_exported_before(
    pristine: Pristine, victim: ArmoryNode, attack: Attack, tmp_path: Path
) -> None:
    with attacker(victim.database_url) as db:
        first_bad, _reason = attack(db)
    key = str(pristine.vkey)

    # What left the node before the attack is out of the attacker's reach.
    old = victim("verify", str(pristine.old_bundle), "--key", key)
    assert old.stdout.startswith(f"OK: {SIZE} entries of book {BOOK}")

    # The export does not check the book first: it signs the tree the stored hashes describe.
    new_bundle = tmp_path / "NEW.zip"
    exported = victim("export", BOOK, "-o", str(new_bundle), "--case", "after")
    assert exported.stdout.strip() == f"wrote {new_bundle}: {SIZE + 1} entries of book {BOOK}"

    held = tmp_path / "old.checkpoint"
    with zipfile.ZipFile(pristine.old_bundle) as zf:
        held.write_bytes(zf.read("checkpoint"))
    against_old = victim(
        "verify", str(new_bundle), "--key", key, "--checkpoint", str(held), check=False
    )
    assert against_old.returncode == 1
    line = one_line(against_old.stderr)
    assert line.startswith("FAIL: ")

    alone = victim("verify", str(new_bundle), "--key", key, check=False)
    if attack is edit_a_body:
        # The stored leaf hash still is the original's, so the new bundle's edited entry does
        # not match its own signed tree: the bundle fails on its own, naming the entry.
        assert line.endswith(f"(first bad entry: {first_bad})")
        assert alone.returncode == 1
        assert one_line(alone.stderr).endswith(f"(first bad entry: {first_bad})")
    else:
        # Every hash was recomputed, so the node signed the rewritten tree and the new bundle
        # is consistent in itself; only the checkpoint held from before exposes the rewrite.
        assert f"first {SIZE} entries do not match the checkpoint you hold" in line
        assert "rewritten" in line
        assert alone.returncode == 0
        assert alone.stdout.startswith(f"OK: {SIZE + 1} entries of book {BOOK}")


# --- Random damage to the SQLite file ----------------------------------------------------------

MUTATIONS = 100
MUTATION_SEED = 20261124


def bodies(database: Path) -> list[tuple[object, ...]] | None:
    """Every entry row (key, type of body, body) as a fresh connection reads it, whatever the
    damage made of the values, or None when the file cannot be read."""
    try:
        with ExitStack() as stack:
            connection = sqlite3.connect(f"file:{database}?immutable=1", uri=True)
            stack.callback(connection.close)
            connection.text_factory = bytes  # a body turned into text may not be UTF-8
            rows = connection.execute(
                "SELECT pos, typeof(body), body FROM entries ORDER BY pos"
            ).fetchall()
    except (sqlite3.DatabaseError, UnicodeDecodeError):  # the latter: a garbled error message
        return None
    return [tuple(row) for row in rows]


SQLALCHEMY_APPENDIX = "(Background on this error at: https://sqlalche.me/"


def first_line_of_error(stderr: str) -> str:
    """The error line; a SQLAlchemy error's own appendix after it is tolerated here only
    (test_an_unreadable_database_file_is_reported_in_one_line holds that bug)."""
    if SQLALCHEMY_APPENDIX in stderr:
        return stderr.split("\n", 1)[0]
    return one_line(stderr)


@pytest.mark.parametrize("pristine", ["sqlite"], indirect=True)
def test_an_unreadable_database_file_is_reported_in_one_line(
    pristine: Pristine, tmp_path: Path
) -> None:
    copy = tmp_path / "data"
    shutil.copytree(pristine.node.data_dir, copy)
    database = copy / "armory.db"
    with database.open("r+b") as handle:
        handle.write(b"not a database!!")  # over the 16-byte "SQLite format 3" magic
    node = replace(pristine.node, data_dir=copy, database_url=f"sqlite:///{database}")
    result = node("verify", "--book", BOOK, check=False)
    assert result.returncode != 0
    assert one_line(result.stderr).startswith("armory: ")


@pytest.mark.parametrize("pristine", ["sqlite"], indirect=True)
def test_random_byte_damage_to_the_sqlite_file_is_never_silently_accepted(
    pristine: Pristine, tmp_path: Path
) -> None:
    source = pristine.node.data_dir / "armory.db"
    wal = source.with_name("armory.db-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "the database was left with a live log"
    original = bodies(source)
    assert original is not None
    assert len(original) == SIZE
    image = source.read_bytes()
    rng = random.Random(MUTATION_SEED)
    detected = harmless = intact_but_detected = 0
    for number in range(MUTATIONS):
        copy = tmp_path / f"m{number}"
        shutil.copytree(pristine.node.data_dir, copy)
        offset = rng.randrange(len(image))
        damaged = bytearray(image)
        damaged[offset] ^= rng.randrange(1, 256)
        (copy / "armory.db").write_bytes(damaged)
        node = replace(pristine.node, data_dir=copy, database_url=f"sqlite:///{copy}/armory.db")
        unchanged = bodies(copy / "armory.db") == original
        result = node("verify", "--book", BOOK, check=False)
        if result.returncode == 0:
            assert unchanged, f"byte {offset} changed an entry and verify --book accepted it"
            assert result.stdout.startswith(f"OK: book {BOOK}: {SIZE} entries")
            harmless += 1
        else:
            line = first_line_of_error(result.stderr)
            assert line.startswith(("FAIL: ", "armory: ")), line
            detected += 1
            intact_but_detected += unchanged
        shutil.rmtree(copy)
    print(
        f"{MUTATIONS} single-byte mutations of a {len(image)}-byte database: {detected} detected "
        f"({intact_but_detected} of them with every entry body intact), {harmless} harmless"
    )
    assert detected + harmless == MUTATIONS
    assert detected > 0, "no mutation reached the data: the test damages nothing"
