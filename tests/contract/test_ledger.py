"""The ledger service on every storage backend: the same suite on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from armory.adapters.sql import store as store_module
from armory.errors import Conflict, InvalidInput, NotFound, VerificationFailed
from armory.ledger import merkle
from armory.ledger.bundle import verify_bundle
from armory.ledger.checkpoint import open_checkpoint
from armory.ledger.entry import Draft, DraftEncoder, decode_entry
from armory.services import ledger as ledger_service
from armory.services.ledger import FOLD_ENTRIES, PENDING_CHECKPOINTS, LedgerService
from tests.contract.conftest import TEST_SIGNER, sql_ledger


def drafts(count: int, start: int = 0) -> list[Draft]:
    return [
        Draft.of("ana", "box_received", {"box": f"B-{i}", "count": 50, "label": "45 LC DUMMIES"})
        for i in range(start, start + count)
    ]


def bodies(ledger: LedgerService, book: str) -> list[bytes]:
    return [entry.raw for entry in ledger.entries(book)]


def test_a_new_book_starts_with_the_entry_that_created_it(ledger: LedgerService) -> None:
    result = ledger.create_book("demo", "production", "Demo", "admin")
    assert result.entries == ((0, "book_created"),)
    [entry] = list(ledger.entries("demo"))
    assert (entry.index, entry.book, entry.actor, entry.type) == (
        0,
        "demo",
        "admin",
        "book_created",
    )
    assert entry.data == {"kind": "production", "name": "Demo", "node": "test.node"}


def test_a_book_cannot_be_created_twice_or_with_a_bad_id_or_kind(ledger: LedgerService) -> None:
    ledger.create_book("demo", "production", "Demo", "admin")
    with pytest.raises(Conflict, match="already exists"):
        ledger.create_book("demo", "supplier", "Again", "admin")
    with pytest.raises(InvalidInput, match="not valid"):
        ledger.create_book("no spaces", "production", "X", "admin")
    with pytest.raises(InvalidInput, match="kind"):
        ledger.create_book("other", "armoury", "X", "admin")
    assert [book.id for book in ledger.books()] == ["demo"]


def test_appending_to_an_unknown_book_is_refused(ledger: LedgerService) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        ledger.append("nowhere", drafts(1))


def test_the_checkpoint_signs_the_root_of_the_committed_entries(ledger: LedgerService) -> None:
    ledger.create_book("demo", "production", "Demo", "admin")
    result = ledger.append("demo", drafts(10))
    assert [index for index, _ in result.entries] == list(range(1, 11))
    checkpoint = open_checkpoint(result.checkpoint.note, TEST_SIGNER.verifier())
    assert checkpoint.origin == "test.node/demo"
    assert checkpoint.size == 11
    expected = merkle.root_of(merkle.leaf_hash(b) for b in bodies(ledger, "demo"))
    assert checkpoint.root_hash == expected == result.checkpoint.root


def test_proofs_verify_against_the_checkpoint_also_from_a_fresh_process(
    ledger: LedgerService, reopen: Callable[[], LedgerService]
) -> None:
    ledger.create_book("demo", "production", "Demo", "admin")
    ledger.append_many("demo", drafts(300), commit_every=64)
    small = ledger.checkpoint("demo")
    ledger.append("demo", drafts(37, start=300))
    fresh = reopen()
    big = fresh.checkpoint("demo")
    entries = bodies(fresh, "demo")
    assert big.size == len(entries) == 338
    for index in (0, 1, 150, 300, 337):
        proof = fresh.inclusion_proof("demo", index)
        merkle.verify_inclusion(merkle.leaf_hash(entries[index]), index, big.size, proof, big.root)
    proof = fresh.consistency_proof("demo", small.size)
    merkle.verify_consistency(small.size, big.size, small.root, big.root, proof)


def test_proof_requests_outside_the_book_are_refused(ledger: LedgerService) -> None:
    ledger.create_book("demo", "production", "Demo", "admin")
    with pytest.raises(InvalidInput):
        ledger.inclusion_proof("demo", 1)
    with pytest.raises(InvalidInput):
        ledger.consistency_proof("demo", 2)
    with pytest.raises(InvalidInput):
        ledger.inclusion_proof("demo", 0, size=5)


def test_a_fresh_process_asked_first_for_a_proof_checks_the_book_and_the_size(
    ledger: LedgerService, reopen: Callable[[], LedgerService]
) -> None:
    ledger.create_book("demo", "production", "Demo", "admin")
    ledger.append("demo", drafts(4))
    with pytest.raises(NotFound, match="'nowhere' does not exist"):
        reopen().inclusion_proof("nowhere", 0, size=1)
    with pytest.raises(InvalidInput, match="cannot prove at size 6"):
        reopen().consistency_proof("demo", 2, 6)
    fresh = reopen()
    proof = fresh.inclusion_proof("demo", 2, size=5)
    leaf = merkle.leaf_hash(bodies(ledger, "demo")[2])
    merkle.verify_inclusion(leaf, 2, 5, proof, ledger.checkpoint("demo").root)
    assert fresh.book("demo").name == "Demo"  # the record came with the size, and is kept


def test_proof_sizes_follow_a_book_grown_by_another_process(
    ledger: LedgerService, reopen: Callable[[], LedgerService]
) -> None:
    ledger.create_book("demo", "production", "Demo", "admin")
    ledger.append("demo", drafts(9))
    assert ledger.checkpoint("demo").size == 10
    ledger.inclusion_proof("demo", 3, size=10)  # sizes up to 10 are now known to be real
    with pytest.raises(InvalidInput, match="cannot prove at size 12"):
        ledger.inclusion_proof("demo", 3, size=12)
    other = reopen()
    other.append("demo", drafts(5, start=9))
    grown = other.checkpoint("demo")
    entries = bodies(other, "demo")
    for index, size in ((3, 10), (12, 15), (3, 15)):
        proof = ledger.inclusion_proof("demo", index, size)
        root = other.root("demo", size)
        merkle.verify_inclusion(merkle.leaf_hash(entries[index]), index, size, proof, root)
    assert other.root("demo", 15) == grown.root
    with pytest.raises(InvalidInput, match="cannot prove at size 16"):
        ledger.consistency_proof("demo", 10, 16)


def test_group_commit_gives_the_same_tree_as_single_appends(
    ledger: LedgerService, memory_ledger: LedgerService
) -> None:
    for service in (ledger, memory_ledger):
        service.create_book("demo", "production", "Demo", "admin")
    ledger.append_many("demo", drafts(250), commit_every=100)
    for draft in drafts(250):
        memory_ledger.append("demo", [draft])
    # The clocks differ in how often they are read, so compare the structure and the proofs.
    assert ledger.checkpoint("demo").size == memory_ledger.checkpoint("demo").size == 251
    assert ledger.verify_book("demo").size == 251


def test_a_group_commit_that_another_writer_overtakes_between_transactions_stays_whole(
    ledger: LedgerService, reopen: Callable[[], LedgerService]
) -> None:
    # The next transaction's first batches are made while the last one commits, on the word
    # of the edge it leaves. Another process appends in between here (from the progress
    # report, which comes after a commit and before the next transaction): those batches
    # must be made again at the book's new size, or the tree would be wrong from there on.
    ledger.create_book("demo", "production", "Demo", "admin")
    other = reopen()
    reports: list[int] = []

    def overtake(count: int) -> None:
        reports.append(count)
        if len(reports) == 1:
            other.append("demo", [Draft.of("bo", "note_added", {"text": "in between"})])

    imported = ledger.append_many("demo", drafts(25), commit_every=10, progress=overtake)
    assert reports == [10, 10, 5]
    assert (imported.first, imported.checkpoint.size) == (1, 27)
    entries = list(ledger.entries("demo"))
    assert [entry.actor for entry in entries[10:13]] == ["ana", "bo", "ana"]
    assert [entry.index for entry in entries] == list(range(27))
    assert [entry.data["box"] for entry in entries if entry.actor == "ana"] == [
        f"B-{i}" for i in range(25)
    ]
    # Every leaf and interior hash recomputed, and each entry's index checked against its row.
    assert ledger.verify_book("demo").size == 27
    assert reopen().checkpoint("demo").root == imported.checkpoint.root


def test_a_group_commit_whose_input_fails_keeps_and_reports_what_it_committed(
    ledger: LedgerService,
) -> None:
    ledger.create_book("demo", "production", "Demo", "admin")

    def failing() -> Iterator[Draft]:
        yield from drafts(15)
        raise RuntimeError("the file ended in the middle of a line")

    reports: list[int] = []
    with pytest.raises(RuntimeError, match="the file ended"):
        ledger.append_many("demo", failing(), commit_every=10, progress=reports.append)
    # The first transaction committed while the next was being read: it is kept and reported.
    assert reports == [10]
    assert ledger.verify_book("demo").size == 11
    imported = ledger.append_many("demo", drafts(3, start=15))
    assert (imported.first, imported.checkpoint.size) == (11, 14)
    assert ledger.verify_book("demo").size == 14


def test_a_group_commit_makes_batches_ahead_only_while_the_last_transaction_commits() -> None:
    encoder = DraftEncoder("demo", "2026-11-24T09:00:00.000Z")
    batches = [drafts(3), drafts(3, start=3), drafts(2, start=6)]
    committing: Future[None] = Future()
    edge = merkle.Frontier()
    made = ledger_service._make_ahead(encoder, batches, edge, committing)
    assert [len(rows) for rows in made] == [3, 3, 2]  # all of them, as it never finished
    assert edge.size == 8
    committing.set_result(None)
    assert ledger_service._make_ahead(encoder, batches, merkle.Frontier(), committing) == []
    assert ledger_service._make_ahead(encoder, batches, None, Future()) == []  # no edge yet
    assert ledger_service._make_ahead(encoder, batches, merkle.Frontier(), None) == []


def test_roots_are_identical_on_sqlite_postgresql_and_in_memory(
    sqlite_url: str, postgres_url: str, memory_ledger: LedgerService
) -> None:
    sqlite_ledger, sqlite_engine = sql_ledger(sqlite_url)
    postgres_ledger, postgres_engine = sql_ledger(postgres_url)
    try:
        roots = []
        for service in (sqlite_ledger, postgres_ledger, memory_ledger):
            service.create_book("demo", "production", "Demo", "admin")
            service.append_many("demo", drafts(77), commit_every=10)
            service.append("demo", drafts(5, start=77))
            roots.append((service.checkpoint("demo").note, bodies(service, "demo")))
        assert roots[0] == roots[1] == roots[2]
    finally:
        sqlite_engine.dispose()
        postgres_engine.dispose()


def test_entries_cannot_be_updated_or_deleted_in_the_database(
    engine_and_ledger: tuple[Engine, LedgerService],
) -> None:
    engine, ledger = engine_and_ledger
    ledger.create_book("demo", "production", "Demo", "admin")
    for statement in ("UPDATE entries SET body = body", "DELETE FROM entries"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    assert ledger.verify_book("demo").size == 1


class FailingInsertStore:
    """Wraps a real store; the writer inserts, then fails before the commit."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def write(self, book: str, create: object = None) -> object:
        inner_write = self.inner.write  # type: ignore[attr-defined]
        context = inner_write(book, create=create)

        class Failing:
            def __enter__(self) -> object:
                writer = context.__enter__()
                original = writer.insert

                def insert(rows: object) -> None:
                    original(rows)
                    raise OSError("disk unplugged")

                writer.insert = insert
                return writer

            def __exit__(self, *exc: object) -> object:
                return context.__exit__(*exc)

        return Failing()


def test_no_checkpoint_is_signed_over_entries_that_did_not_commit(ledger: LedgerService) -> None:
    ledger.create_book("demo", "production", "Demo", "admin")
    ledger.store = FailingInsertStore(ledger.store)  # type: ignore[assignment]
    with pytest.raises(OSError, match="unplugged"):
        ledger.append("demo", drafts(3))
    ledger.store = ledger.store.inner  # type: ignore[attr-defined]
    ledger.flush()
    assert [size for size, _ in ledger.store.checkpoints("demo")] == [1]
    assert ledger.checkpoint("demo").size == 1
    assert ledger.append("demo", drafts(1)).entries == ((1, "box_received"),)
    assert ledger.verify_book("demo").size == 2


def test_concurrent_appenders_to_one_book_never_collide(
    ledger: LedgerService, reopen: Callable[[], LedgerService]
) -> None:
    ledger.create_book("demo", "production", "Demo", "admin")
    services = [reopen() for _ in range(4)]
    errors: list[BaseException] = []

    def work(service: LedgerService, worker: int) -> None:
        try:
            for i in range(25):
                service.append("demo", drafts(1, start=worker * 100 + i))
        except BaseException as error:  # noqa: BLE001 -- collected and asserted empty below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(s, n)) for n, s in enumerate(services)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = ledger.verify_book("demo")
    assert report.size == 101
    assert sorted(str(e.data["box"]) for e in ledger.entries("demo", 1)) == sorted(
        f"B-{w * 100 + i}" for w in range(4) for i in range(25)
    )


def test_the_checkpoint_of_an_unchanged_book_is_answered_without_signing_or_storing_again(
    ledger: LedgerService, reopen: Callable[[], LedgerService], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.create_book("demo", "production", "Demo", "admin")
    ledger.append("demo", drafts(2))
    first = ledger.checkpoint("demo")
    kept: list[int] = []
    real_save = ledger.store.save_checkpoints

    def counting_save(book: str, checkpoints: Sequence[tuple[int, str]]) -> None:
        kept.extend(size for size, _note in checkpoints)
        real_save(book, checkpoints)

    monkeypatch.setattr(ledger.store, "save_checkpoints", counting_save)
    assert ledger.checkpoint("demo") == first
    assert kept == []
    # Another process appends: this one signs the new size without a write of its own (the
    # appender keeps the same bytes), and keeps it later, here on shutdown.
    other = reopen()
    other.append("demo", drafts(1, start=2))
    newer = ledger.checkpoint("demo")
    assert newer.size == first.size + 1
    assert kept == []
    assert newer.note == other.checkpoint("demo").note  # Ed25519: the same bytes everywhere
    ledger.flush()
    assert newer.size in kept
    assert ledger.verify_book("demo").size == newer.size


def test_a_reader_keeps_the_checkpoints_it_signed_in_batches_and_with_its_next_append(
    ledger: LedgerService, reopen: Callable[[], LedgerService], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = reopen()  # the process that appends; `ledger` only reads until the end
    other.create_book("demo", "production", "Demo", "admin")
    writes: list[list[int]] = []
    real_save = ledger.store.save_checkpoints

    def counting_save(book: str, checkpoints: Sequence[tuple[int, str]]) -> None:
        writes.append([size for size, _note in checkpoints])
        real_save(book, checkpoints)

    monkeypatch.setattr(ledger.store, "save_checkpoints", counting_save)
    signed = []
    for n in range(PENDING_CHECKPOINTS + 3):
        other.append("demo", drafts(1, start=n))
        signed.append(ledger.checkpoint("demo").size)
    # One write for the first PENDING_CHECKPOINTS sizes this reader signed; none per read.
    assert writes == [signed[:PENDING_CHECKPOINTS]]
    # The rest go with this process's own next append, in its transaction.
    ledger.append("demo", drafts(1, start=1000))
    assert len(writes) == 1
    kept = {size for size, _note in ledger.store.checkpoints("demo")}
    assert set(signed) <= kept
    assert ledger.verify_book("demo").checkpoints_checked >= len(signed)


@pytest.mark.postgres
def test_a_book_being_appended_to_does_not_hold_up_another_book(postgres_url: str) -> None:
    first, first_engine = sql_ledger(postgres_url)
    second, second_engine = sql_ledger(postgres_url)
    try:
        first.create_book("a", "production", "A", "admin")
        first.create_book("b", "production", "B", "admin")
        held = threading.Event()
        release = threading.Event()

        def hold_book_a() -> None:
            with first.store.write("a"):
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold_book_a)
        holder.start()
        assert held.wait(10)
        started = time.monotonic()
        second.append("b", drafts(1))
        elapsed = time.monotonic() - started
        release.set()
        holder.join()
        assert elapsed < 2.0
    finally:
        first_engine.dispose()
        second_engine.dispose()


def test_an_exported_bundle_verifies_and_records_the_export(ledger: LedgerService) -> None:
    ledger.create_book("demo", "production", "Demo", "admin")
    ledger.append("demo", drafts(20))
    buffer = io.BytesIO()
    result = ledger.export("demo", buffer, "investigator:kim", case="CASE-7")
    last = decode_entry(bodies(ledger, "demo")[-1])
    assert (last.type, last.actor, last.data) == (
        "bundle_exported",
        "investigator:kim",
        {"case": "CASE-7", "format": "armory-bundle-1"},
    )
    buffer.seek(0)
    report = verify_bundle(buffer, TEST_SIGNER.verifier())
    assert (report.book, report.size, report.root) == ("demo", 22, result.checkpoint.root)


@pytest.fixture
def node_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many tree nodes each read by an appending writer asks for."""
    reads: list[int] = []
    real_read = store_module.SqlBookWriter.read_nodes

    def counted(writer: store_module.SqlBookWriter, nodes: Any) -> Any:
        reads.append(len(nodes))
        return real_read(writer, nodes)

    monkeypatch.setattr(store_module.SqlBookWriter, "read_nodes", counted)
    return reads


def test_an_append_after_another_processs_grows_the_trees_edge_from_their_leaves(
    ledger: LedgerService, reopen: Callable[[], LedgerService], node_reads: list[int]
) -> None:
    ledger.create_book("demo", "production", "Demo", "admin")
    ledger.append("demo", drafts(3))
    other = reopen()
    other.append("demo", drafts(5, start=3))  # this process's edge of the tree is now behind
    node_reads.clear()  # only the next append's reads count
    appended = ledger.append("demo", drafts(1, start=8))
    assert node_reads == []  # the edge grew from the other's leaves, read with their entries
    assert appended.checkpoint.size == 10
    assert appended.checkpoint.note == other.checkpoint("demo").note  # the same tree
    assert ledger.verify_book("demo").size == 10


def test_after_many_of_another_processs_entries_the_trees_edge_is_read_from_the_store(
    ledger: LedgerService, reopen: Callable[[], LedgerService], node_reads: list[int]
) -> None:
    ledger.create_book("demo", "production", "Demo", "admin")
    ledger.append("demo", drafts(1))
    other = reopen()
    other.append_many("demo", drafts(FOLD_ENTRIES + 1, start=1))  # more than a turn folds
    node_reads.clear()  # only the next append's reads count
    appended = ledger.append("demo", drafts(1, start=FOLD_ENTRIES + 2))
    assert node_reads != []
    assert appended.checkpoint.note == other.checkpoint("demo").note


def test_a_leaf_hash_cut_short_is_never_folded_into_the_trees_edge(
    engine_and_ledger: tuple[Engine, LedgerService], reopen: Callable[[], LedgerService]
) -> None:
    engine, ledger = engine_and_ledger
    ledger.create_book("demo", "production", "Demo", "admin")
    ledger.append("demo", drafts(3))
    other = reopen()
    other.append("demo", drafts(1, start=3))  # entry 3 also holds the nodes it completes
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("DROP TRIGGER entries_no_update")
        else:
            connection.exec_driver_sql("ALTER TABLE entries DISABLE TRIGGER USER")
        connection.execute(
            text("UPDATE entries SET hashes = :cut WHERE pos = (SELECT max(pos) FROM entries)"),
            {"cut": b"\x00" * 16},
        )
    # Read from the store instead, the damage is reported; never signed into a checkpoint.
    with pytest.raises(VerificationFailed, match="missing node"):
        ledger.append("demo", drafts(1, start=4))


def test_keeping_checkpoints_that_fails_leaves_no_transaction_open(ledger: LedgerService) -> None:
    ledger.create_book("demo", "production", "Demo", "admin")
    unbindable: Any = object()
    with pytest.raises(Exception, match=r"bind|adapt|parameter"):
        ledger.store.save_checkpoints("demo", [(1, unbindable)])
    # The connection it used went back with no transaction (on SQLite, no write lock) open.
    assert ledger.append("demo", drafts(2)).checkpoint.size == 3
    assert ledger.verify_book("demo").size == 3
