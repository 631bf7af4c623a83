"""Witnesses' PINs on every storage backend: hashed ahead, side by side, with the same answers."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import pytest
from argon2 import PasswordHasher

from armory.adapters.sql.accounts import SqlAccounts
from armory.adapters.sql.schema import make_engine, migrate
from armory.adapters.sql.store import SqlLedgerStore
from armory.errors import InvalidInput
from armory.services.commands import CommandService, Outcome
from armory.services.ports import Account, PinResult
from tests.contract.test_protocol_stateful import (
    ARMORER,
    add_accounts,
    build_world,
    confirm,
    empty_chambers,
    new_service,
)

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
PINS = {"lee": "3333", "dan": "2222", "sue": "4444"}


class CountingHasher(PasswordHasher):
    """The test suite's cheap Argon2id, counting the PIN hashes it verifies; each verification
    waits for `gate`, which is open unless a test closes it."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verified = 0
        self.gate = threading.Event()
        self.gate.set()
        self._counting = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        assert self.gate.wait(timeout=30), "a verification waited for the gate for 30 s"
        with self._counting:
            self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def accounts(database_url: str) -> Iterator[tuple[SqlAccounts, CountingHasher]]:
    engine = make_engine(database_url)
    migrate(engine)
    hasher = CountingHasher()
    found = SqlAccounts(engine, hasher)
    for person, pin in PINS.items():
        found.add(Account(person, person.title(), False), f"{person}-password", pin)
    yield found, hasher
    engine.dispose()


def test_pins_hashed_ahead_are_not_hashed_again_when_checked(
    accounts: tuple[SqlAccounts, CountingHasher],
) -> None:
    store, hasher = accounts
    store.precheck_pins([("lee", "3333"), ("dan", "2222"), ("lee", "3333")])
    assert hasher.verified == 2  # each distinct pair once
    assert store.check_pin("lee", "3333", NOW) == PinResult.OK
    assert store.check_pin("dan", "2222", NOW) == PinResult.OK
    assert hasher.verified == 2


def test_pins_hashed_in_the_background_are_waited_for_and_never_hashed_twice(
    accounts: tuple[SqlAccounts, CountingHasher],
) -> None:
    store, hasher = accounts
    hasher.gate.clear()
    pairs = [("lee", "3333"), ("dan", "2222")]
    store.precheck_pins(pairs, wait=False)  # returns with both hashes still to do
    assert hasher.verified == 0
    # Asked again while they are under way: waited for, not begun a second time.
    again = threading.Thread(target=store.precheck_pins, args=(pairs,))
    checked: list[str] = []
    check = threading.Thread(target=lambda: checked.append(store.check_pin("lee", "3333", NOW)))
    again.start()
    check.start()
    again.join(timeout=0.2)
    check.join(timeout=0.2)
    assert again.is_alive()
    assert check.is_alive()
    assert checked == []
    hasher.gate.set()
    again.join(timeout=30)
    check.join(timeout=30)
    assert checked == [PinResult.OK]
    assert [store.check_pin(person, pin, NOW) for person, pin in pairs] == [PinResult.OK] * 2
    assert hasher.verified == 2  # each once, in the background


def test_a_wrong_pin_hashed_in_the_background_is_still_wrong_and_counts(
    accounts: tuple[SqlAccounts, CountingHasher],
) -> None:
    store, hasher = accounts
    store.precheck_pins([("lee", "0000")], wait=False)
    for _ in range(5):
        assert store.check_pin("lee", "0000", NOW) == PinResult.WRONG
    assert store.check_pin("lee", "3333", NOW) == PinResult.LOCKED
    assert hasher.verified == 6  # the hash ahead, then each check in turn


def test_closing_the_accounts_waits_for_the_hashes_under_way(
    accounts: tuple[SqlAccounts, CountingHasher],
) -> None:
    store, hasher = accounts
    hasher.gate.clear()
    store.precheck_pins([("lee", "3333")], wait=False)
    threading.Timer(0.1, hasher.gate.set).start()
    store.close()
    assert hasher.verified == 1


def test_a_wrong_pin_hashed_ahead_is_still_wrong_and_still_counts_toward_the_lockout(
    accounts: tuple[SqlAccounts, CountingHasher],
) -> None:
    store, _hasher = accounts
    store.precheck_pins([("lee", "0000"), ("dan", "2222")])
    for _ in range(4):
        assert store.check_pin("lee", "0000", NOW) == PinResult.WRONG
    store.precheck_pins([("lee", "0000"), ("lee", "3333")])
    assert store.check_pin("lee", "0000", NOW) == PinResult.WRONG  # the fifth: locked now
    assert store.check_pin("lee", "3333", NOW) == PinResult.LOCKED


def test_a_right_pin_hashed_ahead_still_clears_the_failures_before_it(
    accounts: tuple[SqlAccounts, CountingHasher],
) -> None:
    store, _hasher = accounts
    for _ in range(4):
        assert store.check_pin("sue", "9999", NOW) == PinResult.WRONG
    store.precheck_pins([("sue", "4444"), ("lee", "3333")])
    assert store.check_pin("sue", "4444", NOW) == PinResult.OK
    # Four more wrong ones do not lock: the right PIN started the count again.
    for _ in range(4):
        assert store.check_pin("sue", "9999", NOW) == PinResult.WRONG
    assert store.check_pin("sue", "4444", NOW) == PinResult.OK


def test_hashing_ahead_skips_unknown_people_and_pins_already_remembered(
    accounts: tuple[SqlAccounts, CountingHasher],
) -> None:
    store, hasher = accounts
    assert store.check_pin("lee", "3333", NOW) == PinResult.OK
    assert hasher.verified == 1
    store.precheck_pins([("lee", "3333"), ("nobody", "1234"), ("dan", "2222"), ("sue", "4444")])
    assert hasher.verified == 3  # dan's and sue's; lee's is remembered, nobody has no hash
    assert store.check_pin("nobody", "1234", NOW) == PinResult.UNKNOWN


def test_the_pins_of_one_command_are_read_at_once_and_answer_as_one_by_one(
    accounts: tuple[SqlAccounts, CountingHasher], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _hasher = accounts
    assert store.check_pins([("lee", "3333"), ("dan", "2222")], NOW) == [PinResult.OK] * 2
    reads: list[int] = []
    real = store.engine.raw_connection

    def counting() -> Any:
        reads.append(1)
        return real()

    monkeypatch.setattr(store.engine, "raw_connection", counting)
    pairs = [("lee", "3333"), ("dan", "2222"), ("lee", "3333"), ("nobody", "1234")]
    assert store.check_pins(pairs, NOW) == [PinResult.OK] * 3 + [PinResult.UNKNOWN]
    assert reads == [1]  # every row in one statement, nothing written


def test_accounts_read_through_the_query_they_are_given(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    store = SqlLedgerStore(engine)
    statements: list[str] = []

    def query(sql: str, params: Sequence[Any]) -> list[Any]:
        statements.append(sql.split(maxsplit=1)[0])
        return store.query(sql, params)

    try:
        hasher = CountingHasher()
        found = SqlAccounts(engine, hasher, query=query)
        found.add(Account("lee", "Lee", False), "lee-password", PINS["lee"])
        assert found.get("lee") == Account("lee", "Lee", False)
        assert found.check_pins([("lee", "0000"), ("lee", PINS["lee"])], NOW) == [
            PinResult.WRONG,
            PinResult.OK,
        ]
        # The account, then the PIN row before each check (the wrong PIN was written).
        assert statements == ["SELECT"] * 3
    finally:
        store.close()
        engine.dispose()


def test_pins_checked_at_once_count_and_lock_as_they_do_one_by_one(
    accounts: tuple[SqlAccounts, CountingHasher],
) -> None:
    store, _hasher = accounts
    for _ in range(3):
        assert store.check_pin("sue", "9999", NOW) == PinResult.WRONG
    # A right PIN clears sue's three failures; lee's five wrong ones lock lee within the call,
    # so the sixth finds the lock (read again after each write), right PIN or not.
    pairs = [("sue", "4444"), *[("lee", "0000")] * 5, ("lee", "3333"), ("dan", "2222")]
    expected = [PinResult.OK, *[PinResult.WRONG] * 5, PinResult.LOCKED, PinResult.OK]
    assert store.check_pins(pairs, NOW) == expected
    for _ in range(4):
        assert store.check_pin("sue", "9999", NOW) == PinResult.WRONG
    assert store.check_pin("sue", "4444", NOW) == PinResult.OK  # four since the clearing
    assert store.check_pin("lee", "3333", NOW) == PinResult.LOCKED


@pytest.fixture
def western(database_url: str) -> Iterator[tuple[CommandService, CommandService, CountingHasher]]:
    """A production set up; and, as a new process would have it on the same database, a
    command service that remembers nobody and hashes PINs with the counting hasher."""
    service, engine = new_service(database_url)
    add_accounts(service)
    build_world(service, "western")
    hasher = CountingHasher()
    yield service, CommandService(service.ledger, SqlAccounts(engine, hasher)), hasher
    engine.dispose()


def test_a_file_of_commands_hashes_each_new_witness_pin_once_and_answers_as_before(
    western: tuple[CommandService, CommandService, CountingHasher],
) -> None:
    _service, fresh, hasher = western

    def inspection(*witnesses: dict[str, str]) -> dict[str, Any]:
        return {
            "type": "inspect",
            "firearm": "F1",
            "purpose": "daily",
            "chambers": empty_chambers("F1"),
            "bore_clear": True,
            "witnesses": list(witnesses),
        }

    answers = fresh.execute_many(
        "western",
        ARMORER,
        [
            inspection(confirm("pat"), confirm("dan")),
            inspection(confirm("pat"), confirm("dan")),
            inspection(confirm("pia", "0000")),
        ],
    )
    rules = [a.rule if isinstance(a, Outcome) else a for a in answers]
    assert rules == [None, None, "PIN_INVALID"]
    # pat, dan and pia's wrong PIN hashed side by side; the wrong one again, in turn, where it
    # counts toward pia's lockout.
    assert hasher.verified == 4


def test_pins_and_passwords_are_hashed_each_with_their_own_parameters(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    try:
        passwords = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        pins = PasswordHasher(time_cost=1, memory_cost=2048, parallelism=1)
        store = SqlAccounts(engine, passwords, pins)
        store.add(Account("lee", "Lee", False), "lee-password", "3333")
        with engine.connect() as connection:
            password_hash, pin_hash = connection.exec_driver_sql(
                "SELECT password_hash, pin_hash FROM accounts WHERE id = 'lee'"
            ).one()
        assert "m=1024," in password_hash
        assert "m=2048," in pin_hash
        assert store.check_pin("lee", "3333", NOW) == PinResult.OK
    finally:
        engine.dispose()


def test_by_default_a_pin_costs_owasps_minimum_and_a_password_argon2s_default() -> None:
    found = SqlAccounts(make_engine("sqlite://"))
    assert (found.pin_hasher.memory_cost, found.pin_hasher.time_cost) == (19456, 2)
    assert found.hasher.memory_cost == PasswordHasher().memory_cost


def test_a_command_without_pins_or_references_is_made_ready_at_once_and_others_are_left(
    western: tuple[CommandService, CommandService, CountingHasher],
) -> None:
    _service, fresh, _hasher = western
    # A new process has looked nobody up yet, so nothing is ready without the database.
    check_out = {"type": "check_out", "item": "F1", "from": "safe"}
    assert fresh.prepare_now("western", ARMORER, check_out) is None
    assert fresh.accounts.get(ARMORER) is not None  # now looked up lately
    ready = fresh.prepare_now("western", ARMORER, check_out)
    assert ready == fresh.prepare("western", ARMORER, check_out)
    witnessed = {
        "type": "inspect",
        "firearm": "F1",
        "purpose": "daily",
        "chambers": empty_chambers("F1"),
        "bore_clear": True,
        "witnesses": [confirm("pat")],
    }
    assert fresh.prepare_now("western", ARMORER, witnessed) is None  # a PIN: Argon2id
    correction = {"type": "correct", "entry": 1, "reason": "typo", "fields": {}}
    assert fresh.prepare_now("western", ARMORER, correction) is None  # reads an entry
    malformed = fresh.prepare_now("western", ARMORER, {"type": "check_out"})
    assert malformed is not None
    slow = fresh.prepare("western", ARMORER, {"type": "check_out"})
    assert isinstance(malformed.work, InvalidInput)
    assert isinstance(slow.work, InvalidInput)
    assert malformed.work.message == slow.work.message
    assert ready is not None
    [outcome] = fresh.execute_prepared("western", [ready])
    assert isinstance(outcome, Outcome)
    assert outcome.ok, outcome.message
