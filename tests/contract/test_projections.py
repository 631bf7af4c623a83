"""Projections on every storage backend: a book's state as stored documents is always what a fold
of its ledger gives, whatever happened to the rows, and however many servers share the database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from armory.adapters.sql import store as store_module
from armory.domain.projections import same_state
from armory.services import commands as commands_module
from armory.services.commands import CommandService
from tests.contract.test_protocol_stateful import (
    ARMORER,
    add_accounts,
    build_world,
    confirm,
    entries,
    fold_of,
    new_service,
    stored_projections,
)
from tests.invariants import check_invariants

BOOK = "western"


def chambers(*contents: str, box: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for n, content in enumerate(contents, start=1):
        finding: dict[str, Any] = {"n": n, "content": content}
        if box is not None and content in ("dummy", "blank"):
            finding["box"] = box
        found.append(finding)
    return found


def a_working_day(service: CommandService, book: str) -> None:
    """A day on set: a dummy scene, lunch, a blank scene, a near miss, a refusal, the close."""

    def do(actor: str, command: dict[str, Any], refused: str | None = None) -> None:
        outcome = service.execute(book, actor, command)
        if refused is None:
            assert outcome.ok, (command, outcome.rule, outcome.message)
        else:
            assert outcome.rule == refused, (command, outcome.rule, outcome.message)

    witnesses = [confirm("pat"), confirm("dan")]
    # The dummy scene.
    do(ARMORER, {"type": "check_out", "item": "F1", "from": "safe"})
    do(ARMORER, {"type": "check_out", "item": "D1", "from": "safe"})
    do(ARMORER, {"type": "verify_box", "box": "D1", "count": 12, "method": "rattle",
                 "every_round": True})  # fmt: skip
    rounds = [{"chamber": n, "box": "D1"} for n in range(1, 6)]
    do(ARMORER, {"type": "load", "firearm": "F1", "scene": "S1", "rounds": rounds})
    dummies = chambers("dummy", "dummy", "dummy", "dummy", "dummy", "empty", box="D1")
    do(ARMORER, {"type": "inspect", "firearm": "F1", "purpose": "pre_handover",
                 "chambers": dummies, "bore_clear": True, "witnesses": witnesses})  # fmt: skip
    do(ARMORER, {"type": "declare", "scene": "S1", "status": "cold", "firearms": ["F1"],
                 "announced_by": "dan"})  # fmt: skip
    do(ARMORER, {"type": "hand_over", "firearm": "F1", "to": "pat", "scene": "S1"})
    # The first AD does not hand firearms to actors.
    do("dan", {"type": "hand_over", "firearm": "F2", "to": "pat", "scene": "S2"}, "ARMORER_ONLY")
    do(ARMORER, {"type": "take_back", "firearm": "F1", "from": "pat", "rounds_fired": 0})
    do(ARMORER, {"type": "inspect", "firearm": "F1", "purpose": "after_return",
                 "chambers": dummies, "bore_clear": True})  # fmt: skip
    back = [{"chamber": n, "to": "D1"} for n in range(1, 6)]
    do(ARMORER, {"type": "unload", "firearm": "F1", "rounds": back})
    do(ARMORER, {"type": "store", "item": "F1", "location": "safe"})
    do(ARMORER, {"type": "store", "item": "D1", "location": "safe"})
    # Lunch, everything locked away.
    do(ARMORER, {"type": "pause_day", "reason": "lunch"})
    do(ARMORER, {"type": "check_out", "item": "F2", "from": "safe"}, "DAY_NOT_OPEN")
    do(ARMORER, {"type": "resume_day"})
    # The blank scene.
    do(ARMORER, {"type": "check_out", "item": "F2", "from": "safe"})
    do(ARMORER, {"type": "check_out", "item": "B1", "from": "safe"})
    do(ARMORER, {"type": "verify_box", "box": "B1", "count": 10, "method": "crimped",
                 "every_round": True})  # fmt: skip
    rounds = [{"chamber": n, "box": "B1"} for n in range(1, 4)]
    do(ARMORER, {"type": "load", "firearm": "F2", "scene": "S2", "rounds": rounds})
    do(ARMORER, {"type": "inspect", "firearm": "F2", "purpose": "pre_handover",
                 "chambers": chambers("blank", "blank", "blank", box="B1"), "bore_clear": True,
                 "witnesses": witnesses})  # fmt: skip
    do(ARMORER, {"type": "declare", "scene": "S2", "status": "hot", "firearms": ["F2"],
                 "announced_by": "dan"})  # fmt: skip
    do(ARMORER, {"type": "hand_over", "firearm": "F2", "to": "pat", "scene": "S2"})
    do(ARMORER, {"type": "take_back", "firearm": "F2", "from": "pat", "rounds_fired": 2})
    do(ARMORER, {"type": "inspect", "firearm": "F2", "purpose": "after_return",
                 "chambers": chambers("spent", "spent", "blank", box="B1"),
                 "bore_clear": True})  # fmt: skip
    out = [{"chamber": 1, "to": "spent"}, {"chamber": 2, "to": "spent"}, {"chamber": 3, "to": "B1"}]
    do(ARMORER, {"type": "unload", "firearm": "F2", "rounds": out})
    do(ARMORER, {"type": "store", "item": "F2", "location": "safe"})
    do(ARMORER, {"type": "store", "item": "B1", "location": "safe"})
    do("cole", {"type": "report_incident", "kind": "near_miss", "items": ["F2"],
                "description": "a grip walked into the line of fire during the take"})  # fmt: skip
    do("pia", {"type": "refuse_to_handle", "firearm": "F1", "reason": "not today"})
    do(ARMORER, {"type": "close_day", "counts": {"D1": 12, "D2": 6, "B1": 8, "B2": 6}})


@pytest.fixture
def first(database_url: str) -> Iterator[tuple[CommandService, Engine]]:
    """A server on the test's database, with its accounts and the production set up."""
    service, engine = new_service(database_url)
    add_accounts(service)
    build_world(service, BOOK)
    yield service, engine
    engine.dispose()


@pytest.fixture
def second(database_url: str, first: Any) -> Iterator[CommandService]:
    """Another server on the same database, as a second process would be: nothing shared."""
    service, engine = new_service(database_url)
    yield service
    engine.dispose()


def test_after_a_working_day_rebuild_finds_the_projections_identical(
    first: tuple[CommandService, Engine],
) -> None:
    service, _ = first
    a_working_day(service, BOOK)
    state = service.state(BOOK)
    check_invariants(state, entries(service, BOOK))
    assert same_state(stored_projections(service, BOOK), fold_of(service, BOOK))
    rebuilt, same = service.rebuild(BOOK)
    assert same
    assert same_state(rebuilt, state)
    assert state.boxes["B1"].count == 8
    assert state.day is not None
    assert not state.day.open


def item_index(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT item, idx FROM item_entries WHERE book = :book ORDER BY item, idx"),
            {"book": BOOK},
        )
        return [(str(item), int(idx)) for item, idx in rows]


@pytest.mark.parametrize("in_order_from", [1, 10**9], ids=["sorted-many-a-statement", "as-is"])
def test_rebuild_writes_the_item_index_the_commands_wrote_however_it_inserts_it(
    first: tuple[CommandService, Engine],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    in_order_from: int,
) -> None:
    service, engine = first
    a_working_day(service, BOOK)
    written = item_index(engine)
    assert len(written) > 40
    assert len({item for item, _idx in written}) > 5
    monkeypatch.setattr(store_module, "INDEX_IN_ORDER_FROM", in_order_from)
    monkeypatch.setattr(store_module, "SQLITE_ROWS_PER_INSERT", 7)  # several statements
    fresh, fresh_engine = new_service(database_url)
    try:
        assert fresh.rebuild(BOOK)[1]
        assert item_index(engine) == written
        for item in ("F1", "D1"):
            assert fresh.ledger.store.entries_naming(BOOK, item) == [
                idx for named, idx in written if named == item
            ]
    finally:
        fresh_engine.dispose()


def test_without_its_projection_rows_a_fresh_server_replays_and_rebuild_restores_them(
    first: tuple[CommandService, Engine], database_url: str
) -> None:
    service, engine = first
    a_working_day(service, BOOK)
    shown = service.state(BOOK)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM projections"))
    fresh, fresh_engine = new_service(database_url)
    try:
        assert same_state(fresh.state(BOOK), shown)
        assert stored_projections(fresh, BOOK).size == 0
        rebuilt, same = fresh.rebuild(BOOK)
        assert not same
        assert same_state(rebuilt, shown)
        assert same_state(stored_projections(fresh, BOOK), shown)
        assert fresh.rebuild(BOOK)[1]
    finally:
        fresh_engine.dispose()


def test_a_command_after_the_projection_rows_were_lost_leaves_every_row_right(
    first: tuple[CommandService, Engine], database_url: str
) -> None:
    service, engine = first
    a_working_day(service, BOOK)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM projections"))
    fresh, fresh_engine = new_service(database_url)
    third, third_engine = new_service(database_url)
    try:
        outcome = fresh.execute(
            BOOK, ARMORER, {"type": "verify_box", "box": "D2", "count": 6, "method": "rattle",
                            "every_round": True},
        )  # fmt: skip
        assert outcome.ok, outcome.message
        # A third server, which knows nothing yet, decides on what the rows say.
        outcome = third.execute(
            BOOK, ARMORER, {"type": "register_location", "location": "van", "name": "Van",
                            "kind": "vehicle", "locked": True, "keyholders": [ARMORER]},
        )  # fmt: skip
        assert outcome.ok, (outcome.rule, outcome.message)
        assert same_state(stored_projections(fresh, BOOK), fold_of(fresh, BOOK))
    finally:
        fresh_engine.dispose()
        third_engine.dispose()


def test_a_second_server_sees_the_first_ones_commands_and_both_interleave_without_forking(
    first: tuple[CommandService, Engine], second: CommandService
) -> None:
    service, _ = first
    assert same_state(second.state(BOOK), service.state(BOOK))
    steps: list[tuple[CommandService, dict[str, Any]]] = [
        (service, {"type": "check_out", "item": "F1", "from": "safe"}),
        (second, {"type": "check_out", "item": "D1", "from": "safe"}),
        (service, {"type": "verify_box", "box": "D1", "count": 12, "method": "rattle",
                   "every_round": True}),
        (second, {"type": "load", "firearm": "F1", "scene": "S1",
                  "rounds": [{"chamber": 1, "box": "D1"}]}),
        (service, {"type": "inspect", "firearm": "F1", "purpose": "pre_handover",
                   "chambers": chambers("dummy", *["empty"] * 5, box="D1"), "bore_clear": True,
                   "witnesses": [confirm("pat"), confirm("dan")]}),
        (second, {"type": "hand_over", "firearm": "F1", "to": "pat", "scene": "S1"}),
        (service, {"type": "take_back", "firearm": "F1", "from": "pat", "rounds_fired": 0}),
    ]  # fmt: skip
    for server, command in steps:
        outcome = server.execute(BOOK, ARMORER, command)
        assert outcome.ok, (command, outcome.rule, outcome.message)
    # Each server decided on what the other had done: the load needed the other's check-out.
    assert service.state(BOOK).boxes["D1"].count == 11
    assert same_state(second.state(BOOK), service.state(BOOK))

    def report(server: CommandService, who: str, errors: list[BaseException]) -> None:
        try:
            for n in range(8):
                outcome = server.execute(
                    BOOK, who, {"type": "report_incident", "kind": "near_miss", "items": [],
                                "description": f"{who} saw near miss {n}"},
                )  # fmt: skip
                assert outcome.ok, outcome.message
        except BaseException as problem:  # noqa: BLE001 -- handed to the main thread
            errors.append(problem)

    before = service.ledger.store.size(BOOK)
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=report, args=(service, "cole", errors)),
        threading.Thread(target=report, args=(second, "dan", errors)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    ledger = entries(service, BOOK)
    assert len(ledger) == before + 2 * 8 * 2  # each report: the report and its incident
    assert [e.index for e in ledger] == list(range(len(ledger)))
    for server in (service, second):
        state = server.state(BOOK)
        check_invariants(state, ledger)
        assert same_state(state, fold_of(server, BOOK))
        assert server.ledger.verify_book(BOOK).size == len(ledger)
        server.ledger.flush()
    assert service.ledger.verify_book(BOOK).checkpoints_checked > 0
    assert same_state(stored_projections(second, BOOK), fold_of(second, BOOK))
    assert service.rebuild(BOOK)[1]
    assert second.rebuild(BOOK)[1]


def test_the_access_checks_state_trails_another_servers_writes_by_at_most_fresh_for(
    first: tuple[CommandService, Engine], second: CommandService, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, _ = first
    before = second.recent_state(BOOK)
    outcome = service.execute(BOOK, ARMORER, {"type": "check_out", "item": "F1", "from": "safe"})
    assert outcome.ok
    # Within the window the access check answers from memory, without asking the store...
    monkeypatch.setattr(commands_module, "FRESH_FOR", 3600.0)
    assert second.recent_state(BOOK).size == before.size
    # ...while views always see what the other server committed,
    assert second.state(BOOK).size == service.state(BOOK).size
    # and once the window has passed, so does the access check.
    monkeypatch.setattr(commands_module, "FRESH_FOR", 0.0)
    assert second.recent_state(BOOK).size == service.state(BOOK).size


def test_what_a_server_writes_is_in_its_own_access_checks_at_once(
    first: tuple[CommandService, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, _ = first
    monkeypatch.setattr(commands_module, "FRESH_FOR", 3600.0)
    service.recent_state(BOOK)
    outcome = service.execute(BOOK, ARMORER, {"type": "check_out", "item": "F1", "from": "safe"})
    assert outcome.ok
    assert service.recent_state(BOOK).firearms["F1"].custody.kind == "armorer"


def test_servers_taking_turns_fold_each_others_entries_without_reading_every_document(
    first: tuple[CommandService, Engine], second: CommandService, monkeypatch: Any
) -> None:
    service, _ = first
    for server, firearm in ((service, "F1"), (second, "F2")):  # each now has the book's state
        outcome = server.execute(BOOK, ARMORER, {"type": "check_out", "item": firearm,
                                                 "from": "safe"})  # fmt: skip
        assert outcome.ok, outcome.message
    reads: list[str] = []
    load = store_module.SqlBookWriter.load_projections

    def counted(writer: store_module.SqlBookWriter) -> Any:
        reads.append(writer.book)
        return load(writer)

    monkeypatch.setattr(store_module.SqlBookWriter, "load_projections", counted)
    turns = [
        (service, {"type": "check_out", "item": "D1", "from": "safe"}),
        (second, {"type": "verify_box", "box": "D1", "count": 12, "method": "rattle",
                  "every_round": True}),
        (service, {"type": "load", "firearm": "F1", "scene": "S1",
                   "rounds": [{"chamber": 1, "box": "D1"}]}),
        (second, {"type": "store", "item": "D1", "location": "safe"}),
    ]  # fmt: skip
    for server, command in turns:
        outcome = server.execute(BOOK, ARMORER, command)
        assert outcome.ok, (command, outcome.rule, outcome.message)
    assert reads == []
    # The load was decided on the other server's verification, and both agree on the result.
    assert second.state(BOOK).firearms["F1"].contents[0].content == "dummy"
    ledger = entries(service, BOOK)
    for server in (service, second):
        check_invariants(server.state(BOOK), ledger)
        assert same_state(stored_projections(server, BOOK), fold_of(server, BOOK))
    assert service.rebuild(BOOK)[1]
