"""The SQL schema, as SQLAlchemy Core tables. Alembic migrations create it; this mirrors them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# On SQLite an INTEGER PRIMARY KEY is the table's own b-tree key (the rowid); BIGINT is not.
Key = BigInteger().with_variant(Integer(), "sqlite")

INDEX_BITS = 40  # entries are keyed by book number << 40 | index: 1.1e12 entries per book
INDEX_MASK = (1 << INDEX_BITS) - 1

books = Table(
    "books",
    metadata,
    Column("no", Key, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("created_at", String(24), nullable=False),
)

# One row per entry, keyed by one integer: the book's number << INDEX_BITS | the entry's index.
# Each book's entries are contiguous in the table's primary b-tree, and on SQLite the key is the
# rowid itself, which appends measurably faster than a composite key (docs/architecture.md).
# `hashes` holds the leaf hash and the interior nodes the entry completes. Insert and select
# only: triggers in the migration refuse UPDATE and DELETE.
entries = Table(
    "entries",
    metadata,
    Column("pos", Key, primary_key=True, autoincrement=False),
    Column("body", LargeBinary, nullable=False),
    Column("hashes", LargeBinary, nullable=False),
)

# Signed checkpoints kept for `armory verify --book`; each can be signed again if lost. Keyed
# as entries are: the book's number << INDEX_BITS | the checkpoint's size, so keeping one writes
# to one b-tree (on SQLite the rowid's), next to the book's last.
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("pos", Key, primary_key=True, autoincrement=False),
    Column("note", Text, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("pin_hash", Text, nullable=False),
    Column("is_admin", Boolean, nullable=False),
    Column("pin_failures", Integer, nullable=False),
    Column("pin_locked_until", Float, nullable=True),
    Column("created_at", String(24), nullable=False),
    Column("password_failures", Integer, nullable=False),
    Column("password_locked_until", Float, nullable=True),
)

# Bearer tokens, kept as their SHA-256 only, until they expire.
tokens = Table(
    "tokens",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("account", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("created_at", String(24), nullable=False),
)

# Failed logins, wrong PINs and refused requests, apart from the ledger.
security_log = Table(
    "security_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(24), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("account", String(64), nullable=True),
    Column("book", String(64), nullable=True),
    Column("source", String(64), nullable=True),
    Column("detail", Text, nullable=False),
)

# A book's state as documents (armory.domain.projections), rebuilt from the ledger at will.
projections = Table(
    "projections",
    metadata,
    Column("book", String(64), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("doc", Text, nullable=False),
)

# Which entries name which item, person or cross-book reference (`book#index`): for `trace`.
# On SQLite the key's b-tree is the table (WITHOUT ROWID, migration 0005).
item_entries = Table(
    "item_entries",
    metadata,
    Column("book", String(64), primary_key=True),
    Column("item", String(128), primary_key=True),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)
