"""The command service: one command, one transaction (STYLE: the service layer).

Parse the command; check the people's PINs; under the book's lock bring the book's state up to
date, decide, append the events (or the refusal) to the ledger and write the projections that
changed; commit; sign the checkpoint. Nothing else writes a book's state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from armory.domain.commands import (
    Correct,
    Envelope,
    LedgerRef,
    ReceiveBox,
    ReceiveFirearm,
    ReceiveReturn,
    parse_command,
    pin_confirmations,
)
from armory.domain.decide import Context, Event, Refused, decide, without_pins
from armory.domain.evolve import Recorded, evolve
from armory.domain.projections import (
    changed_documents,
    documents,
    named_items,
    same_state,
    state_from_documents,
)
from armory.domain.rules import Rule
from armory.domain.schema import to_json
from armory.domain.state import BookState
from armory.errors import InvalidInput, NotFound
from armory.ledger.entry import Draft, Entry, decode_entry, format_time
from armory.services.ledger import LedgerService
from armory.services.ports import Accounts, BookWriter, PinResult, SecurityEvent, SecurityLog

# How long a cached book state is trusted without asking the store for the book's size: the
# longest another process's write may take to show in this process's views.
FRESH_FOR = 0.1


@dataclass(frozen=True)
class Outcome:
    """What happened to one command: accepted with its events, or refused by a rule."""

    ok: bool
    events: tuple[dict[str, Any], ...] = ()
    rule: str | None = None
    message: str | None = None
    index: int | None = None
    incident: str | None = None
    checkpoint: str = ""
    size: int = 0

    def to_json(self) -> dict[str, Any]:
        if self.ok:
            return {"ok": True, "events": list(self.events)}
        answer: dict[str, Any] = {
            "ok": False,
            "rule": self.rule,
            "message": self.message,
            "index": self.index,
        }
        if self.incident is not None:
            answer["incident"] = self.incident
        return answer


class CommandService:
    """Runs commands against books: the rules of SPEC §4 between people and the ledger."""

    def __init__(
        self, ledger: LedgerService, accounts: Accounts, security: SecurityLog | None = None
    ) -> None:
        self.ledger = ledger
        self.accounts = accounts
        self.security = security
        self._states: dict[str, BookState] = {}
        # When each cached state was last known to match the stored book (monotonic seconds).
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()

    # Running commands

    def execute(self, book: str, actor: str, command: object) -> Outcome:
        """Run one command as `actor` in a durable transaction of its own; InvalidInput for a
        malformed one (nothing recorded)."""
        [result] = self.execute_many(book, actor, [command])
        if isinstance(result, Exception):
            raise result
        return result

    def execute_many(
        self, book: str, actor: str, commands: Sequence[object]
    ) -> list[Outcome | InvalidInput | NotFound]:
        """Run commands in order in ONE transaction (group commit, for files and replays): each
        is decided on the state its predecessors left, and answered once all are durable. A
        malformed command gets its error in its place and records nothing."""
        return self.execute_read(book, actor, self.read(commands))

    def read(self, commands: Sequence[object], *, ahead: bool = False) -> ReadCommands:
        """Parse commands for `execute_read`. Reading `ahead` (the next group of a file, while
        the caller runs this one) also starts hashing the PINs they carry that this process
        has not verified yet: Argon2id runs beside the commands before them."""
        parsed = [self._parse(command) for command in commands]
        if ahead:
            self.accounts.precheck_pins(_pin_pairs(parsed), wait=False)
        return ReadCommands(parsed)

    def execute_read(
        self, book: str, actor: str, commands: ReadCommands
    ) -> list[Outcome | InvalidInput | NotFound]:
        """`execute_many` of commands `read` already."""
        account = self.accounts.get(actor)
        if account is None:
            raise NotFound(f"no account {actor!r}: `armory user add` creates one")
        self.ledger.book(book)
        # The group's new witnesses' PINs are hashed side by side before they are checked in
        # order: on a file with many witnesses, Argon2id is most of the wait.
        self.accounts.precheck_pins(_pin_pairs(commands.parsed))
        return self.execute_prepared(
            book,
            [
                Prepared(actor, account.is_admin, self._prepare_parsed(book, envelope))
                for envelope in commands.parsed
            ],
        )

    def prepare(self, book: str, actor: str, command: object) -> Prepared:
        """What is done before a command waits for its book: find the account, parse the
        command, check the PINs it carries (Argon2id: slow on purpose, so never under the
        book's lock), read the entries it points at."""
        account = self.accounts.get(actor)
        if account is None:
            return Prepared(
                actor, False, NotFound(f"no account {actor!r}: `armory user add` creates one")
            )
        return Prepared(actor, account.is_admin, self._prepare(book, command))

    def prepare_now(self, book: str, actor: str, command: object) -> Prepared | None:
        """`prepare` for a command that needs neither the database nor Argon2id: its account
        looked up lately, no PIN to check, no other entry to read. None for any other, which
        `prepare` then does (a server calls this on its event loop, which must never wait)."""
        account = self.accounts.remembered(actor)
        if account is None:
            return None
        envelope = self._parse(command)
        if isinstance(envelope, InvalidInput):
            return Prepared(actor, account.is_admin, envelope)
        if any(True for _ in pin_confirmations(envelope)) or _wanted(book, envelope):
            return None
        return Prepared(actor, account.is_admin, _Prepared(envelope, _NO_PIN_FAILURES, {}))

    def execute_prepared(
        self, book: str, prepared: Sequence[Prepared]
    ) -> list[Outcome | InvalidInput | NotFound]:
        """Decide prepared commands in order and commit them in ONE transaction."""
        batch = _Batch(book, [(p.actor, p.is_admin, p.work) for p in prepared])
        appended = self.ledger.transact(book, lambda w, size, time: batch.run(self, w, size, time))
        if batch.state is not None:
            with self._lock:
                self._states[book] = batch.state
                self._checked[book] = time.monotonic()
        if appended is None:
            return [r for r in batch.results if not isinstance(r, _Decided)]
        note, size = appended.checkpoint.note, appended.checkpoint.size
        return [
            _answer(result, note, size) if isinstance(result, _Decided) else result
            for result in batch.results
        ]

    def _prepare(self, book: str, command: object) -> _Prepared | InvalidInput | NotFound:
        """Parse a command and do what is done outside the lock: PINs, referenced entries."""
        return self._prepare_parsed(book, self._parse(command))

    @staticmethod
    def _parse(command: object) -> Envelope | InvalidInput:
        try:
            return parse_command(command)
        except InvalidInput as problem:
            return problem

    def _prepare_parsed(
        self, book: str, envelope: Envelope | InvalidInput
    ) -> _Prepared | InvalidInput | NotFound:
        if isinstance(envelope, InvalidInput):
            return envelope
        try:
            return _Prepared(
                envelope, self._check_pins(book, envelope), self._references(book, envelope)
            )
        except (InvalidInput, NotFound) as problem:
            return problem

    def _check_pins(self, book: str, envelope: Envelope) -> frozenset[str]:
        failures: set[str] = set()
        now = self.ledger.clock()
        confirmations = pin_confirmations(envelope)
        results = self.accounts.check_pins([(c.person, c.pin) for c in confirmations], now)
        for confirmation, result in zip(confirmations, results, strict=True):
            if result != PinResult.OK:
                failures.add(confirmation.person)
                if self.security is not None:
                    self.security.record(
                        SecurityEvent(
                            format_time(now),
                            "pin_failed",
                            f"PIN of {confirmation.person} for {envelope.type}: {result}",
                            confirmation.person,
                            book,
                        )
                    )
        return frozenset(failures)

    def _references(self, book: str, envelope: Envelope) -> dict[tuple[str, int], Recorded]:
        """The other entries a command points at, read before the lock is taken."""
        found: dict[tuple[str, int], Recorded] = {}
        for other, index in _wanted(book, envelope):
            if self.ledger.store.book(other) is None or index < 0:
                continue
            for entry in self.ledger.entries(other, index, index + 1):
                found[(other, index)] = _recorded(entry)
        return found

    # State

    def load_state(self, book: str, writer: BookWriter) -> tuple[BookState, BookState]:
        """The book's state as its stored projections hold it, and brought up to the writer's
        size. The cache stands for the stored projections when it is current, or behind by
        entries another process appended (and stored the projections of); otherwise the
        documents are read (and, if any are missing, the ledger is folded again), then the
        entries another process appended are folded on top. The caller stores the difference
        between the two, so projections that were behind or damaged are repaired."""
        with self._lock:
            cached = self._states.get(book)
        if cached is not None and cached.size == writer.size:
            return cached, cached
        if cached is not None and cached.size < writer.size:
            # Another process appended since this one last did (two server processes take
            # turns on a book), and stored the projections of its entries with them: they are
            # these entries folded onto this state. Folding the few new entries here costs
            # far less than reading every document of the book back on every turn.
            current = cached
            for row in writer.entries_since(cached.size):
                current = evolve(current, _recorded(decode_entry(row.body, canonical=False)))
            return current, current
        stored = state_from_documents(writer.load_projections())
        current = stored
        if stored.size > writer.size or not stored.complete:
            current = BookState()  # the documents cannot be trusted: fold the whole ledger
        for row in writer.entries_since(current.size):
            current = evolve(current, _recorded(decode_entry(row.body, canonical=False)))
        return stored, current

    def state(self, book: str) -> BookState:
        """The book's current state, for views: what any process has committed so far."""
        self.ledger.book(book)
        with self._lock:
            state = self._states.get(book)
        now = time.monotonic()
        if state is None:
            # A new process starts from the stored projections (and folds what they lack), not
            # from the first entry: a server's first read of a long book must not replay it.
            state = self.ledger.hold(book, lambda writer: self.load_state(book, writer)[1])
        elif state.size != self.ledger.store.size(book):
            state = self.replay(book, state)
        with self._lock:
            # Another thread may have stored a later state meanwhile: never go back to an
            # earlier one.
            if self._states.get(book, state).size <= state.size:
                self._states[book] = state
                self._checked[book] = now
        return self._states.get(book, state)

    def recent_state(self, book: str) -> BookState:
        """The book's state as of at most FRESH_FOR seconds ago, for the access check made on
        every request: what this process writes is in it at once, what another process writes
        shows within FRESH_FOR, and a busy server does not ask the database for the book's
        size on every request. The rules never use it: commands are decided on the state read
        under the book's lock."""
        with self._lock:
            state = self._states.get(book)
            checked = self._checked.get(book, -FRESH_FOR)
        if state is not None and time.monotonic() - checked < FRESH_FOR:
            return state
        return self.state(book)

    def replay(self, book: str, start: BookState | None = None) -> BookState:
        """Fold the book's entries (from `start`, or from nothing)."""
        state = start or BookState()
        for entry in self.ledger.entries(book, state.size, canonical=False):
            state = evolve(state, _recorded(entry))
        return state

    def rebuild(self, book: str) -> tuple[BookState, bool]:
        """Recompute every projection and the item index of the book from its ledger and store
        them; also say whether the stored projections were already identical."""
        self.ledger.book(book)
        terms: list[tuple[str, int]] = []
        rebuilt = BookState()
        for entry in self.ledger.entries(book, canonical=False):
            rebuilt = evolve(rebuilt, _recorded(entry))
            terms.extend((term, entry.index) for term in named_items(entry.data))

        def work(writer: BookWriter) -> tuple[BookState, bool]:
            stored = state_from_documents(writer.load_projections())
            current = rebuilt
            for row in writer.entries_since(rebuilt.size):
                entry = decode_entry(row.body, canonical=False)
                current = evolve(current, _recorded(entry))
                terms.extend((term, entry.index) for term in named_items(entry.data))
            same = stored.size == current.size and same_state(stored, current)
            writer.clear_projections()
            writer.save_projections(documents(current))
            writer.index_items(terms)
            return current, same

        current, same = self.ledger.hold(book, work)
        with self._lock:
            self._states[book] = current
        return current, same


@dataclass(frozen=True)
class ReadCommands:
    """Commands parsed (CommandService.read), each an envelope or why it is malformed."""

    parsed: list[Envelope | InvalidInput]


def _pin_pairs(parsed: Sequence[Envelope | InvalidInput]) -> Iterator[tuple[str, str]]:
    for envelope in parsed:
        if isinstance(envelope, Envelope):
            for confirmation in pin_confirmations(envelope):
                yield confirmation.person, confirmation.pin


@dataclass(frozen=True)
class Prepared:
    """A command made ready outside the book's lock (CommandService.prepare)."""

    actor: str
    is_admin: bool
    work: _Prepared | InvalidInput | NotFound


@dataclass(frozen=True)
class _Prepared:
    """A parsed command with what was checked outside the lock."""

    envelope: Envelope
    pin_failures: frozenset[str]
    references: dict[tuple[str, int], Recorded]


class _Batch:
    """Commands decided one after the other inside one transaction."""

    def __init__(
        self, book: str, prepared: list[tuple[str, bool, _Prepared | InvalidInput | NotFound]]
    ) -> None:
        self.book = book
        self.prepared = prepared
        self.results: list[_Decided | InvalidInput | NotFound] = []
        self.state: BookState | None = None

    def run(self, service: CommandService, writer: BookWriter, size: int, time: str) -> list[Draft]:
        self.results = []  # a retried transaction starts over
        start, state = service.load_state(self.book, writer)
        drafts: list[Draft] = []
        terms: list[tuple[str, int]] = []
        for actor, is_admin, item in self.prepared:
            if not isinstance(item, _Prepared):
                self.results.append(item)
                continue
            index = size + len(drafts)
            try:
                events, refused = self._decide(state, actor, is_admin, item, index, time)
            except InvalidInput as problem:
                self.results.append(problem)
                continue
            for offset, event in enumerate(events):
                position = index + offset
                state = evolve(state, Recorded(position, time, actor, event.type, event.data))
                terms.extend((term, position) for term in named_items(event.data))
                drafts.append(Draft.of(actor, event.type, dict(event.data)))
            self.results.append(_Decided(index, tuple(e.type for e in events), refused))
        writer.save_projections(changed_documents(start, state))
        writer.index_items(terms)
        self.state = state
        return drafts

    def _decide(
        self, state: BookState, actor: str, is_admin: bool, item: _Prepared, index: int, time: str
    ) -> tuple[list[Event], Refused | None]:
        ctx = Context(
            book=self.book,
            actor=actor,
            time=time,
            next_index=index,
            is_admin=is_admin,
            pin_failures=item.pin_failures,
            references=item.references,
        )
        try:
            return decide(state, item.envelope, ctx), None
        except Refused as refusal:
            return [_refusal_event(item.envelope, refusal), *refusal.events], refusal


@dataclass(frozen=True)
class _Decided:
    index: int
    types: tuple[str, ...]
    refused: Refused | None


def _answer(decided: _Decided, checkpoint: str, size: int) -> Outcome:
    if decided.refused is None:
        events = tuple(
            {"index": decided.index + n, "type": kind} for n, kind in enumerate(decided.types)
        )
        return Outcome(True, events, checkpoint=checkpoint, size=size)
    refused = decided.refused
    incident = next(
        (e.data["incident"] for e in refused.events if e.type == "incident_opened"), None
    )
    message = f"{refused.message}. {Rule(refused.rule).next_step}"
    return Outcome(
        False,
        rule=refused.rule.value,
        message=message,
        index=decided.index,
        incident=incident,
        checkpoint=checkpoint,
        size=size,
    )


_NO_PIN_FAILURES: frozenset[str] = frozenset()


def _wanted(book: str, envelope: Envelope) -> list[tuple[str, int]]:
    """The other entries (book, index) a command points at."""
    command = envelope.command
    wanted: list[tuple[str, int]] = []
    if isinstance(command, ReceiveFirearm | ReceiveBox | ReceiveReturn) and isinstance(
        command.from_, LedgerRef
    ):
        wanted.append((command.from_.book, command.from_.index))
    if isinstance(command, Correct):
        wanted.append((book, command.entry))
    return wanted


def _recorded(entry: Entry) -> Recorded:
    return Recorded(entry.index, entry.time, entry.actor, entry.type, entry.data)


def _refusal_event(envelope: Envelope, refused: Refused) -> Event:
    items = named_items(without_pins(to_json(envelope.command)))
    return Event(
        "command_refused",
        {
            "rule": refused.rule.value,
            "command": envelope.type,
            "items": items,
            "message": refused.message,
        },
    )
