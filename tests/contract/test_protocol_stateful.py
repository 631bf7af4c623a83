"""Random sequences of valid and hostile commands against a real CommandService, on SQLite and on
PostgreSQL, with the invariants of SPEC §4.3 checked after every step.

The machine builds a small production (people, a safe, a cart, two loadable firearms and a rubber
one, boxes of dummies and blanks, an open day, scenes and their safety meetings), then sends
commands: mostly from the armorer, sometimes from people who may not send them; mostly with
ids that exist, sometimes not; with the right PINs and with wrong ones; inspections that say
what is in the chambers and inspections that are wrong; replays of the last command. Whatever it
sends, the answer is accepted, refused with a rule code, or InvalidInput; the book then satisfies
every invariant (`tests.invariants`), and the projections in the database equal a fresh fold.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import Engine, text

from armory.adapters.sql.accounts import SqlAccounts
from armory.domain.evolve import Recorded, fold
from armory.domain.projections import same_state, state_from_documents
from armory.domain.rules import Rule
from armory.domain.state import BookState
from armory.errors import InvalidInput, NotFound
from armory.ledger.entry import Draft, Entry
from armory.services.commands import CommandService, Outcome
from armory.services.ports import Account, BookWriter
from tests.contract.conftest import sql_ledger
from tests.hashers import CHEAP_HASHER
from tests.invariants import InvariantViolation, check_invariants

PIN = "2468"
WRONG_PIN = "1357"
ADMIN = "root"
OUTSIDER = "uma"  # has an account on the server, is enrolled in no book
NOBODY = "zed"  # has no account at all
PEOPLE: dict[str, tuple[str, ...]] = {
    "ana": ("armorer",),
    "dan": ("first_ad",),
    "pat": ("performer",),
    "pia": ("performer",),
    "sam": ("safety",),
    "ivy": ("investigator",),
    "cole": ("crew",),
}
ARMORER = "ana"
HOSTILE = ("dan", "pat", "sam", "ivy", "cole", OUTSIDER, ADMIN)
WRITES_NOTHING = frozenset({"ivy", OUTSIDER})
ARMORER_STEPS = frozenset(
    {
        "check_out", "store", "verify_box", "inspect", "load", "unload", "hand_over",
        "take_back", "declare", "move_rounds", "dispose", "pause_day", "resume_day",
        "close_day", "open_day",
    }
)  # fmt: skip
FIRST_DAY = date(2026, 11, 24)

LOCATIONS: dict[str, tuple[str, bool]] = {"safe": ("safe", True), "cart": ("cart", False)}
FIREARMS: dict[str, tuple[str, str, int]] = {
    "F1": ("functional", ".45 Colt", 6),  # a six-shot revolver
    "F2": ("blank_firing", "9mm PAK", 3),  # a pistol: chamber and two magazine positions
    "F3": ("rubber", ".45 Colt", 1),
}
BOXES: dict[str, tuple[str, str | None, str, int]] = {
    "D1": ("dummy", None, ".45 Colt", 12),
    "D2": ("dummy", None, ".45 Colt", 6),
    "B1": ("blank", "full", "9mm PAK", 10),
    "B2": ("blank", "half", "9mm PAK", 6),
}
SCENES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str | None]] = {
    "S1": (("F1", "F3"), ("pat",), None),
    "S2": (("F2",), ("pat", "pia"), "full"),
    "S3": (("F1",), ("pia",), None),
}
LOADABLE = ("F1", "F2")
CONTENTS = ("empty", "dummy", "blank", "spent", "live", "unknown")
PURPOSES = ("pre_handover", "pre_handover", "daily", "after_return", "intake")
INCIDENT_KINDS = ("discharge", "misfire", "injury", "missing_item", "unsafe_act", "near_miss")
RULE_CODES = frozenset(rule.value for rule in Rule)
UNKNOWN = "X-404"


def one_in(data: st.DataObject, n: int, label: str) -> bool:
    """True about once in `n` draws (the middle value: Hypothesis favours the ends)."""
    return data.draw(st.integers(1, n), label=label) == (n + 1) // 2


def day(number: int) -> str:
    return (FIRST_DAY + timedelta(days=number)).isoformat()


def new_service(url: str) -> tuple[CommandService, Engine]:
    """A command service on the database at `url`, as one server process would have it."""
    ledger, engine = sql_ledger(url)
    return CommandService(ledger, SqlAccounts(engine, CHEAP_HASHER)), engine


def add_accounts(service: CommandService) -> None:
    for person in [*PEOPLE, OUTSIDER]:
        service.accounts.add(Account(person, person.title(), False), "correct horse", PIN)
    service.accounts.add(Account(ADMIN, "Root", True), "correct horse", PIN)


def fold_of(service: CommandService, book: str) -> BookState:
    return fold(
        [Recorded(e.index, e.time, e.actor, e.type, e.data) for e in entries(service, book)]
    )


def entries(service: CommandService, book: str) -> list[Entry]:
    return list(service.ledger.entries(book))


def stored_projections(service: CommandService, book: str) -> BookState:
    """The state the projection rows in the database describe."""

    def load(writer: BookWriter) -> BookState:
        return state_from_documents(writer.load_projections())

    return service.ledger.hold(book, load)


def confirm(person: str, pin: str = PIN) -> dict[str, str]:
    return {"person": person, "pin": pin}


def empty_chambers(firearm: str) -> list[dict[str, Any]]:
    return [{"n": n, "content": "empty"} for n in range(1, FIREARMS[firearm][2] + 1)]


def world() -> Iterator[tuple[str, dict[str, Any]]]:
    """The commands that set up the production: (actor, command), each to be accepted."""
    for person, roles in PEOPLE.items():
        yield (
            ADMIN,
            {"type": "enroll_person", "person": person, "name": person, "roles": list(roles)},
        )
    yield (
        ARMORER,
        {"type": "record_training", "person": "pat", "course": "firearms safety",
         "completed_on": "2026-01-10", "expires_on": "2027-01-10"},
    )  # fmt: skip
    yield (
        ARMORER,
        {"type": "record_training", "person": "pia", "course": "firearms safety",
         "completed_on": "2024-01-10", "expires_on": "2025-01-10"},
    )  # fmt: skip
    for location, (kind, locked) in LOCATIONS.items():
        yield (
            ARMORER,
            {"type": "register_location", "location": location, "name": location.title(),
             "kind": kind, "locked": locked, "keyholders": [ARMORER] if locked else []},
        )  # fmt: skip
    for firearm, (kind, calibre, chambers) in FIREARMS.items():
        yield (
            ARMORER,
            {"type": "receive_firearm", "firearm": firearm, "serial": f"SN-{firearm}",
             "make": "Uberti", "model": "Cattleman", "calibre": calibre, "kind": kind,
             "chambers": chambers, "from": {"source": "Rental house"}, "location": "safe"},
        )  # fmt: skip
    for box, (kind, load, calibre, count) in BOXES.items():
        command: dict[str, Any] = {
            "type": "receive_box", "box": box, "label": f"{box} {kind}", "kind": kind,
            "calibre": calibre, "maker": "Maker", "maker_lot": f"LOT-{box}", "count": count,
            "from": {"source": "Rental house"}, "location": "safe",
        }  # fmt: skip
        if load is not None:
            command["load"] = load
        yield ARMORER, command
    counts = {box: spec[3] for box, spec in BOXES.items()}
    yield (
        ARMORER,
        {"type": "open_day", "date": day(0), "sole_duty": True, "counts": counts,
         "firearms": list(FIREARMS)},
    )  # fmt: skip
    for firearm in LOADABLE:  # in the safe: a firearm leaves it only after its intake inspection
        yield (
            ARMORER,
            {"type": "inspect", "firearm": firearm, "purpose": "intake",
             "chambers": empty_chambers(firearm), "bore_clear": True},
        )  # fmt: skip
    for scene, (firearms, performers, blanks) in SCENES.items():
        yield (
            ARMORER,
            {"type": "plan_scene", "scene": scene, "date": day(0), "title": f"Scene {scene}",
             "firearms": list(firearms), "performers": list(performers), "blanks": blanks,
             "min_distance_ft": 25, "muzzle_toward_person": False,
             "approved_by": confirm("dan")},
        )  # fmt: skip
        yield (
            "dan",
            {"type": "hold_safety_meeting", "scene": scene,
             "attendees": [ARMORER, "dan", *performers],
             "topics": ["action", "deviations", "abort", "emergency"]},
        )  # fmt: skip


def build_world(service: CommandService, book: str) -> None:
    service.ledger.create_book(book, "production", f"Production {book}", ADMIN)
    for actor, command in world():
        outcome = service.execute(book, actor, command)
        assert outcome.ok, (command, outcome.rule, outcome.message)


@dataclass
class Harness:
    """What every example of a test shares: one engine, one service, the accounts."""

    service: CommandService
    engine: Engine
    books: Iterator[int] = field(default_factory=itertools.count)
    steps: int = 0
    rebuilds: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def fresh_book(self) -> str:
        # PIN failures are counted per account across books: every example starts unlocked.
        with self.engine.begin() as connection:
            connection.execute(
                text("UPDATE accounts SET pin_failures = 0, pin_locked_until = NULL")
            )
        book = f"book-{next(self.books)}"
        build_world(self.service, book)
        return book


@dataclass
class Sent:
    actor: str
    command: dict[str, Any]
    hostile: bool  # the command must not be accepted


class ProtocolMachine(RuleBasedStateMachine):
    """One production, driven by random commands; `harness` is set by the test."""

    harness: ClassVar[Harness]

    def __init__(self) -> None:
        super().__init__()
        self.service = self.harness.service
        self.book = self.harness.fresh_book()
        self.today = 0
        self.last: Sent | None = None
        # What is physically in each chamber: (content, box). Inspections that tell the truth
        # read it; the ledger learns it only through commands.
        self.truth: dict[str, list[tuple[str, str | None]]] = {
            firearm: [("empty", None)] * FIREARMS[firearm][2] for firearm in FIREARMS
        }

    # Reading the book

    @property
    def state(self) -> BookState:
        return self.service.state(self.book)

    def where(self, item: str) -> tuple[str, str] | None:
        thing = self.state.firearms.get(item) or self.state.boxes.get(item)
        return None if thing is None else (thing.custody.kind, thing.custody.holder)

    # Drawing: mostly what an armorer would send, sometimes not

    def actor(self, data: st.DataObject, usual: str = ARMORER) -> str:
        if not one_in(data, 10, "someone else?"):
            return usual
        return data.draw(st.sampled_from(HOSTILE), label="actor")

    def item(self, data: st.DataObject, choices: tuple[str, ...]) -> str:
        if one_in(data, 25, "unknown id?"):
            return UNKNOWN
        return data.draw(st.sampled_from(choices))

    def pin(self, data: st.DataObject) -> tuple[str, bool]:
        wrong = one_in(data, 10, "wrong PIN?")
        return (WRONG_PIN if wrong else PIN), wrong

    # Sending

    def send(self, actor: str, command: dict[str, Any], *, hostile: bool = False) -> Outcome | None:
        """Send one command; its answer is accepted, refused with a rule code, or InvalidInput
        (None here), and the ledger grew by exactly what the answer says."""
        kind = command["type"]
        hostile = (
            hostile
            or actor in WRITES_NOTHING
            or actor == ADMIN
            or (kind in ARMORER_STEPS and actor != ARMORER)
            or (kind == "hold_safety_meeting" and actor != "dan")
            or (kind == "resolve_incident" and actor not in (ARMORER, "sam"))
        )
        self.last = Sent(actor, command, hostile)
        before = self.service.ledger.store.size(self.book)
        try:
            outcome = self.service.execute(self.book, actor, command)
        except InvalidInput:
            assert self.service.ledger.store.size(self.book) == before, f"{kind}: wrote entries"
            self.count(f"invalid {kind}")
            return None
        after = self.service.ledger.store.size(self.book)
        if outcome.ok:
            assert not hostile, f"{actor} sent {command} and it was accepted"
            assert [e["index"] for e in outcome.events] == list(range(before, after))
            self.count(f"ok {kind}")
        else:
            assert outcome.rule in RULE_CODES, outcome.rule
            assert outcome.index == before
            assert after > before
            self.count(f"refused {kind} {outcome.rule}")
        return outcome

    def count(self, what: str) -> None:
        self.harness.outcomes[what] = self.harness.outcomes.get(what, 0) + 1

    # The physical world the commands describe

    def findings(self, firearm: str, data: st.DataObject | None = None) -> list[dict[str, Any]]:
        """What is in each chamber; with `data`, now and then not quite what is there."""
        chambers = []
        for n, (content, box) in enumerate(self.truth[firearm], start=1):
            finding: dict[str, Any] = {"n": n, "content": content}
            if box is not None:
                finding["box"] = box
            chambers.append(finding)
        if data is not None and one_in(data, 4, "mistaken inspection?"):
            mistake = data.draw(
                st.sampled_from(("loaded", "loaded", "any", "left out")), label="mistake"
            )
            loaded = [f["n"] for f in chambers if "box" in f]
            if mistake == "left out":
                chambers = chambers[:-1]
            else:
                # Most interesting where the ledger knows a round is.
                numbers = loaded if mistake == "loaded" and loaded else [f["n"] for f in chambers]
                n = data.draw(st.sampled_from(numbers))
                other = [c for c in CONTENTS if c != chambers[n - 1]["content"]]
                chambers[n - 1] = {"n": n, "content": data.draw(st.sampled_from(other))}
        return chambers

    def inspect_firearm(
        self, actor: str, firearm: str, purpose: str, chambers: list[dict[str, Any]],
        witnesses: list[dict[str, str]], *, hostile: bool = False, bore_clear: bool = True,
    ) -> Outcome | None:  # fmt: skip
        return self.send(
            actor,
            {"type": "inspect", "firearm": firearm, "purpose": purpose, "chambers": chambers,
             "bore_clear": bore_clear, "witnesses": witnesses},
            hostile=hostile,
        )  # fmt: skip

    def load_firearm(
        self, actor: str, firearm: str, scene: str, rounds: list[tuple[int, str]]
    ) -> Outcome | None:
        outcome = self.send(
            actor,
            {"type": "load", "firearm": firearm, "scene": scene,
             "rounds": [{"chamber": n, "box": box} for n, box in rounds]},
        )  # fmt: skip
        if outcome is not None and outcome.ok:
            for n, box in rounds:
                self.truth[firearm][n - 1] = (BOXES[box][0], box)
        return outcome

    def take_back_firearm(
        self,
        actor: str,
        firearm: str,
        source: str,
        fired: int,
        misfires: bool = False,
        ejected: bool = False,
    ) -> Outcome | None:
        command: dict[str, Any] = {
            "type": "take_back", "firearm": firearm, "from": source, "rounds_fired": fired,
        }  # fmt: skip
        if misfires:
            command["misfires"] = 1
        outcome = self.send(actor, command)
        if outcome is not None and outcome.ok and firearm in FIREARMS:
            blanks = [(n, box) for n, (c, box) in enumerate(self.truth[firearm]) if c == "blank"]
            # A fired case stays in its chamber, unless the firearm ejected it.
            for n, box in blanks[:fired]:
                self.truth[firearm][n] = ("empty", None) if ejected else ("spent", box)
        return outcome

    def get_box_ready(self, box: str) -> None:
        """Check the box out of storage and verify it today, unless that is done."""
        found = self.state.boxes[box]
        if found.custody.kind == "location":
            self.send(ARMORER, {"type": "check_out", "item": box, "from": found.custody.holder})
        if found.verified_on is None:
            method = "crimped" if found.kind == "blank" else "rattle"
            self.send(
                ARMORER,
                {"type": "verify_box", "box": box, "count": found.count, "method": method,
                 "every_round": True},
            )  # fmt: skip

    def blanks_in(self, firearm: str) -> int:
        return sum(1 for c, _ in self.truth.get(firearm, []) if c == "blank")

    def ready_to_load(self, firearm: str) -> tuple[str, str, list[int]]:
        """A scene, a box of the right rounds and the empty chambers, to load `firearm`."""
        scene, box = ("S2", "B1") if firearm == "F2" else ("S1", "D1")
        empty = [n for n, (c, _) in enumerate(self.truth[firearm], start=1) if c == "empty"]
        return scene, box, empty

    # Custody

    @rule(data=st.data())
    def check_out_or_store(self, data: st.DataObject) -> None:
        item = self.item(data, (*FIREARMS, *BOXES))
        found = self.where(item)
        if data.draw(st.booleans(), label="check out?"):
            place = found[1] if found is not None and found[0] == "location" else "safe"
            source = data.draw(st.sampled_from((place, place, place, "cart", UNKNOWN)))
            self.send(self.actor(data), {"type": "check_out", "item": item, "from": source})
        else:
            place = data.draw(st.sampled_from(("safe", "safe", "safe", "cart", UNKNOWN)))
            self.send(self.actor(data), {"type": "store", "item": item, "location": place})

    @rule(data=st.data())
    def verify_box(self, data: st.DataObject) -> None:
        box = self.item(data, tuple(BOXES))
        ledger = self.state.boxes[box].count if box in BOXES else 5
        count = ledger + data.draw(st.sampled_from((0, 0, 0, 0, 1, -1)))
        method = "crimped" if box in BOXES and BOXES[box][0] == "blank" else "rattle"
        if one_in(data, 10, "wrong method?"):
            method = data.draw(st.sampled_from(("rattle", "drilled", "crimped")))
        self.send(
            self.actor(data),
            {"type": "verify_box", "box": box, "count": count, "method": method,
             "every_round": True},
        )  # fmt: skip

    # Inspecting and loading

    @rule(data=st.data())
    def inspect(self, data: st.DataObject) -> None:
        loaded = tuple(f for f in LOADABLE if any(box for _, box in self.truth[f]))
        firearm = self.item(data, (*loaded, *loaded, *FIREARMS))
        chambers = (
            self.findings(firearm, data) if firearm in FIREARMS else [{"n": 1, "content": "empty"}]
        )
        pin, wrong = self.pin(data)
        witnesses = data.draw(
            st.sampled_from(
                (
                    [confirm("pat", pin), confirm("dan")],
                    [confirm("pat", pin), confirm("dan")],
                    [confirm("pia", pin), confirm("dan")],
                    [confirm("pat", pin)],
                    [confirm("dan", pin)],
                    [],
                    [confirm(ARMORER, pin)],
                    [confirm(UNKNOWN, pin)],
                )
            )
        )
        self.inspect_firearm(
            self.actor(data),
            firearm,
            data.draw(st.sampled_from(PURPOSES)),
            chambers,
            witnesses,
            hostile=wrong and bool(witnesses),
            bore_clear=not one_in(data, 10, "bore obstructed?"),
        )

    @rule(data=st.data())
    def load(self, data: st.DataObject) -> None:
        firearm = self.item(data, LOADABLE)
        if firearm in FIREARMS and not one_in(data, 4, "not as planned?"):
            scene, box, empty = self.ready_to_load(firearm)
            if data.draw(st.booleans(), label="box ready?"):
                self.get_box_ready(box)
        else:
            scene, box, empty = self.item(data, tuple(SCENES)), self.item(data, tuple(BOXES)), []
        chambers = data.draw(
            st.lists(st.sampled_from(empty) if empty else st.integers(0, 7), min_size=1,
                     max_size=2, unique=True)
        )  # fmt: skip
        self.load_firearm(self.actor(data), firearm, scene, [(n, box) for n in chambers])

    @rule(data=st.data())
    def unload(self, data: st.DataObject) -> None:
        firearm = self.item(data, LOADABLE)
        gun = self.state.firearms.get(firearm)
        tied = [n for n, c in enumerate(gun.contents, start=1) if c.box] if gun else []
        chambers = data.draw(
            st.lists(st.sampled_from(tied or [1, 2]), min_size=1, max_size=2, unique=True)
        )
        rounds = []
        for n in chambers:
            source = gun.contents[n - 1].box if gun is not None and n <= len(gun.contents) else None
            to = data.draw(st.sampled_from((source or "D1", source or "B1", "spent", "D2", "B2")))
            rounds.append({"chamber": n, "to": to})
        outcome = self.send(
            self.actor(data), {"type": "unload", "firearm": firearm, "rounds": rounds}
        )
        if outcome is not None and outcome.ok:
            for n in chambers:
                self.truth[firearm][n - 1] = ("empty", None)

    # Handing over and taking back

    @rule(data=st.data())
    def hand_over(self, data: st.DataObject) -> None:
        firearm = self.item(data, tuple(FIREARMS))
        to = data.draw(st.sampled_from(("pat", "pat", "pat", "pia", "dan")))
        scene = self.item(data, tuple(SCENES))
        command: dict[str, Any] = {
            "type": "hand_over", "firearm": firearm, "to": to, "scene": scene,
        }  # fmt: skip
        wrong = False
        if one_in(data, 5, "override?"):
            pin, wrong = self.pin(data)
            second = data.draw(st.sampled_from(("sam", "sam", "dan", ARMORER)))
            command["override"] = {
                "reason": "the plan changed on set",
                "approvals": [confirm(ARMORER), confirm(second, pin)],
            }
        self.send(self.actor(data), command, hostile=wrong)

    @rule(data=st.data())
    def prepare_and_hand_over(self, data: st.DataObject) -> None:
        self.protocol_round(data)

    @rule(data=st.data())
    def another_take(self, data: st.DataObject) -> None:
        """The round a production repeats all day: drawn more often than any other step."""
        self.protocol_round(data)

    @rule(data=st.data())
    def and_another(self, data: st.DataObject) -> None:
        self.protocol_round(data)

    def protocol_round(self, data: st.DataObject) -> None:
        """One round of the protocol: take the firearm back if a performer has it, check it
        out, inspect what came back, unload or load a round, inspect it before the performer
        and the first AD, hand it over. Now and then the inspection before the performer is
        made while the firearm is still in the safe, or the firearm goes back into the safe
        after it; now and then an inspection is wrong."""
        firearm = data.draw(st.sampled_from((*LOADABLE, *LOADABLE, "F3")))
        scene = data.draw(st.sampled_from([s for s, spec in SCENES.items() if firearm in spec[0]]))
        to = data.draw(st.sampled_from((*SCENES[scene][1], "pat", "pat")))
        witnesses = [confirm(to), confirm("dan")]
        loadable = firearm in LOADABLE
        found = self.where(firearm)
        if found is not None and found[0] == "performer":
            fired = data.draw(st.integers(0, self.blanks_in(firearm)))
            ejected = data.draw(st.booleans(), label="ejected?")
            self.take_back_firearm(ARMORER, firearm, found[1], fired, ejected=ejected)
            found = self.where(firearm)
        order = data.draw(
            st.sampled_from(("by the book",) * 3 + ("inspected in the safe", "then put away")),
            label="order",
        )
        stored = found is not None and found[0] == "location"
        if loadable and order == "inspected in the safe" and found is not None and stored:
            self.inspect_firearm(
                ARMORER, firearm, "pre_handover", self.findings(firearm), witnesses
            )
            self.send(ARMORER, {"type": "check_out", "item": firearm, "from": found[1]})
        elif loadable and order == "then put away":
            if found is not None and stored:
                self.send(ARMORER, {"type": "check_out", "item": firearm, "from": found[1]})
            self.inspect_firearm(
                ARMORER, firearm, "pre_handover", self.findings(firearm), witnesses
            )
            self.send(ARMORER, {"type": "store", "item": firearm, "location": "safe"})
            self.send(ARMORER, {"type": "check_out", "item": firearm, "from": "safe"})
        elif loadable:
            if found is not None and found[0] == "location":
                self.send(ARMORER, {"type": "check_out", "item": firearm, "from": found[1]})
            gun = self.state.firearms[firearm]
            if any(c.content != "empty" and c.box is None for c in gun.contents) or any(
                c.content == "unknown" for c in gun.contents
            ):
                self.inspect_firearm(ARMORER, firearm, "after_return", self.findings(firearm), [])
            self.change_rounds(data, firearm, scene)
            self.inspect_firearm(
                ARMORER, firearm, "pre_handover", self.findings(firearm, data), witnesses
            )
        elif found is not None and found[0] == "location":
            self.send(ARMORER, {"type": "check_out", "item": firearm, "from": found[1]})
        self.send(ARMORER, {"type": "hand_over", "firearm": firearm, "to": to, "scene": scene})

    def change_rounds(self, data: st.DataObject, firearm: str, scene: str) -> None:
        """Unload a round, load one, or leave the chambers as they are."""
        change = data.draw(st.sampled_from(("load", "load", "unload", "none")), label="rounds")
        gun = self.state.firearms[firearm]
        tied = [n for n, c in enumerate(gun.contents, start=1) if c.box is not None]
        if change == "unload" and tied:
            n = data.draw(st.sampled_from(tied))
            box = gun.contents[n - 1].box or "spent"
            honest, other = (
                ("spent", box) if gun.contents[n - 1].content == "spent" else (box, "spent")
            )
            to = data.draw(st.sampled_from((honest, honest, honest, other)))
            outcome = self.send(
                ARMORER,
                {"type": "unload", "firearm": firearm, "rounds": [{"chamber": n, "to": to}]},
            )
            if outcome is not None and outcome.ok:
                self.truth[firearm][n - 1] = ("empty", None)
        elif change == "load":
            _, box, empty = self.ready_to_load(firearm)
            if empty:
                self.get_box_ready(box)
                self.load_firearm(ARMORER, firearm, scene, [(empty[0], box)])

    @rule(data=st.data())
    def take_back(self, data: st.DataObject) -> None:
        out = [f.id for f in self.state.firearms.values() if f.custody.kind == "performer"]
        firearm = self.item(data, tuple(out or FIREARMS))
        found = self.where(firearm)
        holder = found[1] if found is not None and found[0] == "performer" else "pat"
        source = data.draw(st.sampled_from((holder, holder, holder, "pia", UNKNOWN)))
        fired = data.draw(st.integers(0, self.blanks_in(firearm)))
        misfires = one_in(data, 10, "misfires?")
        ejected = data.draw(st.booleans(), label="ejected?")
        self.take_back_firearm(self.actor(data), firearm, source, fired, misfires, ejected)

    @rule(data=st.data())
    def scene_paperwork(self, data: st.DataObject) -> None:
        """A safety meeting, or a declaration of cold or hot."""
        if data.draw(st.booleans(), label="meeting?"):
            self.hold_safety_meeting(data)
        else:
            self.declare(data)

    def hold_safety_meeting(self, data: st.DataObject) -> None:
        scene = self.item(data, tuple(SCENES))
        attendees = data.draw(
            st.sampled_from(([ARMORER, "dan", "pat", "pia"], ["dan", "pat"], [ARMORER, "pat"]))
        )
        self.send(
            self.actor(data, usual="dan"),
            {"type": "hold_safety_meeting", "scene": scene, "attendees": attendees,
             "topics": ["action", "abort"]},
        )  # fmt: skip

    def declare(self, data: st.DataObject) -> None:
        scene = self.item(data, tuple(SCENES))
        firearms = data.draw(st.lists(st.sampled_from((*FIREARMS, UNKNOWN)), max_size=2))
        status = data.draw(st.sampled_from(("cold", "hot")))
        self.send(
            self.actor(data),
            {"type": "declare", "scene": scene, "status": status, "firearms": firearms,
             "announced_by": "dan"},
        )  # fmt: skip

    # Rounds

    @rule(data=st.data())
    def move_or_dispose(self, data: st.DataObject) -> None:
        source = self.item(data, tuple(BOXES))
        found = self.where(source)
        if found is not None and found[0] == "location" and data.draw(st.booleans()):
            self.send(ARMORER, {"type": "check_out", "item": source, "from": found[1]})
        if data.draw(st.booleans(), label="move?"):
            target = data.draw(st.sampled_from(("D1", "D2", "B1", "B2", source)))
            found = self.where(target)
            if found is not None and found[0] == "location" and data.draw(st.booleans()):
                self.send(ARMORER, {"type": "check_out", "item": target, "from": found[1]})
            count = data.draw(st.integers(-1, 3))
            self.send(
                self.actor(data),
                {"type": "move_rounds", "from": source, "to": target, "count": count},
            )
        else:
            count = data.draw(st.integers(0, 2))
            self.send(
                self.actor(data),
                {"type": "dispose", "box": source, "count": count, "reason": "damaged"},
            )

    # The day

    def counts(self, data: st.DataObject) -> dict[str, int]:
        counts = {box: b.count for box, b in self.state.boxes.items()}
        if one_in(data, 5, "miscount?"):
            box = data.draw(st.sampled_from(tuple(BOXES)))
            counts[box] += data.draw(st.sampled_from((1, -1)))
        return counts

    @rule(data=st.data())
    def day_step(self, data: st.DataObject) -> None:
        day_now = self.state.day
        usual = (
            "open"
            if day_now is None or not day_now.open
            else "resume"
            if day_now.paused
            else "pause"
        )
        step = data.draw(st.sampled_from((usual, usual, usual, "pause", "resume", "close", "open")))
        if not one_in(data, 3, "leave things out?"):
            self.lock_up()
        actor = self.actor(data)
        if step == "pause":
            self.send(actor, {"type": "pause_day", "reason": "lunch"})
        elif step == "resume":
            self.send(actor, {"type": "resume_day"})
        elif step == "close":
            self.send(actor, {"type": "close_day", "counts": self.counts(data)})
        else:
            date = day(self.today + data.draw(st.sampled_from((1, 1, 0))))
            sole_duty = not one_in(data, 5, "no sole duty?")
            outcome = self.send(
                actor,
                {"type": "open_day", "date": date, "sole_duty": sole_duty,
                 "counts": self.counts(data), "firearms": list(FIREARMS)},
            )  # fmt: skip
            if outcome is not None and outcome.ok:
                self.today += 1

    def lock_up(self) -> None:
        """Take every firearm back and put everything in the safe."""
        for item in (*FIREARMS, *BOXES):
            found = self.where(item)
            if found is not None and found[0] == "performer":
                self.take_back_firearm(ARMORER, item, found[1], 0)
            if found is not None and found != ("location", "safe"):
                self.send(ARMORER, {"type": "store", "item": item, "location": "safe"})

    # Incidents

    @rule(data=st.data())
    def report(self, data: st.DataObject) -> None:
        actor = data.draw(st.sampled_from(("cole", "pat", ARMORER, "dan", "sam", "ivy", OUTSIDER)))
        if one_in(data, 4, "live round?"):
            place = data.draw(st.sampled_from(("box", "firearm", "location", "person")))
            where = {
                "box": self.item(data, tuple(BOXES)),
                "firearm": self.item(data, tuple(FIREARMS)),
                "location": "cart",
                "person": "pat",
            }[place]
            self.send(
                actor,
                {"type": "report_live_round", "where": {place: where},
                 "description": "a round with a primer"},
            )  # fmt: skip
        else:
            items = data.draw(st.lists(st.sampled_from((*FIREARMS, *BOXES, UNKNOWN)), max_size=2))
            self.send(
                actor,
                {"type": "report_incident",
                 "kind": data.draw(st.sampled_from((*INCIDENT_KINDS, "near_miss", "misfire"))),
                 "description": "seen on set", "items": items},
            )  # fmt: skip

    def inventory(self) -> None:
        """Count and verify every box and inspect every firearm, as after a live round."""
        for box, found in self.state.boxes.items():
            method = "crimped" if found.kind == "blank" else "rattle"
            self.send(
                ARMORER,
                {"type": "verify_box", "box": box, "count": found.count, "method": method,
                 "every_round": True},
            )  # fmt: skip
        for firearm in LOADABLE:
            self.inspect_firearm(ARMORER, firearm, "daily", self.findings(firearm), [])

    @rule(data=st.data())
    def resolve_incident(self, data: st.DataObject) -> None:
        """Resolve an open incident (reporting one first if none is), mostly after a full
        inventory and with an armorer and a safety supervisor approving."""
        if not any(i.open for i in self.state.incidents.values()):
            if data.draw(st.booleans(), label="live round?"):
                where = {"box": data.draw(st.sampled_from(tuple(BOXES)))}
                self.send(
                    "cole",
                    {"type": "report_live_round", "where": where,
                     "description": "a round with a primer in the box"},
                )  # fmt: skip
            else:
                self.send(
                    "cole",
                    {"type": "report_incident", "kind": "injury", "items": [],
                     "description": "a cut hand from the cylinder"},
                )  # fmt: skip
        open_ones = sorted(i.id for i in self.state.incidents.values() if i.open)
        if not one_in(data, 3, "a resolution that must fail?"):
            self.inventory()
            self.send(
                data.draw(st.sampled_from((ARMORER, "sam"))),
                {"type": "resolve_incident", "incident": data.draw(st.sampled_from(open_ones)),
                 "resolution": "found and explained",
                 "approvals": [confirm(ARMORER), confirm("sam")]},
            )  # fmt: skip
            return
        incident = data.draw(st.sampled_from((*open_ones, UNKNOWN)))
        if data.draw(st.booleans(), label="inventory?"):
            self.inventory()
        pin, wrong = self.pin(data)
        approvals = data.draw(
            st.sampled_from(
                (
                    [confirm("sam", pin), confirm(ARMORER)],
                    [confirm(ARMORER, pin)],
                    [confirm(ARMORER), confirm("dan", pin)],
                    [confirm("sam"), confirm("sam", pin)],
                )
            )
        )
        qualified = sorted(a["person"] for a in approvals) == [ARMORER, "sam"]
        self.send(
            data.draw(st.sampled_from((ARMORER, "sam", "pat"))),
            {"type": "resolve_incident", "incident": incident,
             "resolution": "found and explained", "approvals": approvals},
            hostile=wrong or not qualified,
        )  # fmt: skip

    # Replays, garbage and strangers

    @rule()
    def replay(self) -> None:
        """The same command again, as a client retrying after a lost answer."""
        if self.last is None:
            return
        last = self.last
        outcome = self.send(last.actor, last.command, hostile=last.hostile)
        if outcome is not None and outcome.ok:
            # The same load, unload, handover or take-back twice is never accepted: the
            # rounds, or the firearm, are not there twice.
            assert last.command["type"] not in ("load", "unload", "take_back", "hand_over")

    @rule(data=st.data())
    def malformed_or_stranger(self, data: st.DataObject) -> None:
        """Commands no schema accepts, and a person with no account: nothing is written."""
        before = self.service.ledger.store.size(self.book)
        if data.draw(st.booleans(), label="stranger?"):
            with pytest.raises(NotFound):
                self.service.execute(self.book, NOBODY, {"type": "resume_day"})
        else:
            command = data.draw(
                st.sampled_from(
                    (
                        {"type": "inspect", "firearm": "F1"},
                        {"type": "load", "firearm": "F1", "scene": "S1", "rounds": "all"},
                        {"type": "hand_over", "firearm": "F1", "to": "pat", "scene": "S1",
                         "pin": "2468"},
                        {"type": "shoot", "firearm": "F1"},
                        {"type": "take_back", "firearm": "F1", "from": "pat"},
                        {"type": "verify_box", "box": "D1", "count": True, "method": "rattle",
                         "every_round": True},
                        {"type": "dispose", "box": "D1", "count": 1},
                    )
                )
            )  # fmt: skip
            with pytest.raises(InvalidInput):
                self.service.execute(self.book, ARMORER, command)
        assert self.service.ledger.store.size(self.book) == before

    # After every step

    @invariant()
    def the_book_keeps_every_invariant(self) -> None:
        state = self.service.state(self.book)
        ledger = entries(self.service, self.book)
        check_invariants(state, ledger)
        fresh = fold([Recorded(e.index, e.time, e.actor, e.type, e.data) for e in ledger])
        stored = stored_projections(self.service, self.book)
        assert stored.size == fresh.size
        assert same_state(stored, fresh), "the projections in the database differ from a fold"
        self.harness.steps += 1
        if self.harness.steps % 5 == 0:
            rebuilt, same = self.service.rebuild(self.book)
            self.harness.rebuilds += 1
            assert same, "rebuild found the stored projections different from the ledger"
            assert same_state(rebuilt, fresh)


def run_machine(url: str, examples: int) -> Harness:
    """Run the machine for `examples` productions on one database; what it saw."""
    service, engine = new_service(url)
    add_accounts(service)
    harness = Harness(service, engine)

    class Machine(ProtocolMachine):
        pass

    Machine.harness = harness
    try:
        run_state_machine_as_test(
            Machine,
            settings=settings(
                max_examples=examples,
                stateful_step_count=30,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
                # Shrinking replays hundreds of productions: minutes. A failure names its entry.
                phases=(Phase.explicit, Phase.generate),
            ),
        )
    finally:
        engine.dispose()
    return harness


def test_random_commands_never_break_an_invariant(database_url: str) -> None:
    # The same examples on both backends: the machine draws the same commands, and the two
    # databases must give the same answers to them.
    harness = run_machine(database_url, examples=25)
    assert harness.rebuilds > 0
    accepted = {what for what in harness.outcomes if what.startswith("ok ")}
    refused = {what for what in harness.outcomes if what.startswith("refused ")}
    # The machine reaches the protocol's deep steps, not only its refusals.
    assert {
        "ok load",
        "ok unload",
        "ok hand_over",
        "ok take_back",
        "ok resolve_incident",
    } <= accepted
    assert len(refused) > 20


# What the machine found, one command sequence each


@pytest.fixture
def production(sqlite_url: str) -> Iterator[tuple[CommandService, str]]:
    service, engine = new_service(sqlite_url)
    add_accounts(service)
    build_world(service, "western")
    yield service, "western"
    engine.dispose()


def run(service: CommandService, book: str, commands: list[dict[str, Any]]) -> Outcome | None:
    """Send the armorer's commands; all but the last must be accepted. The last one's answer
    (None when it is InvalidInput)."""
    *before, last = commands
    for command in before:
        outcome = service.execute(book, ARMORER, command)
        assert outcome.ok, (command, outcome.rule, outcome.message)
    try:
        return service.execute(book, ARMORER, last)
    except InvalidInput:
        return None


def holds(service: CommandService, book: str) -> None:
    check_invariants(service.state(book), entries(service, book))


WITNESSED = [confirm("pat"), confirm("dan")]
DUMMY_IN_ONE: list[dict[str, Any]] = [
    {"type": "check_out", "item": "F1", "from": "safe"},
    {"type": "check_out", "item": "D1", "from": "safe"},
    {"type": "verify_box", "box": "D1", "count": 12, "method": "rattle", "every_round": True},
    {"type": "load", "firearm": "F1", "scene": "S1", "rounds": [{"chamber": 1, "box": "D1"}]},
]


def inspection(firearm: str, *contents: str, purpose: str = "daily") -> dict[str, Any]:
    return {
        "type": "inspect",
        "firearm": firearm,
        "purpose": purpose,
        "chambers": [{"n": n, "content": c} for n, c in enumerate(contents, start=1)],
        "bore_clear": True,
        "witnesses": WITNESSED if purpose == "pre_handover" else [],
    }


def test_a_firearm_inspected_while_still_in_the_safe_is_inspected_again_before_a_handover(
    production: tuple[CommandService, str],
) -> None:
    service, book = production
    outcome = run(
        service,
        book,
        [
            inspection("F1", *["empty"] * 6, purpose="pre_handover"),
            {"type": "check_out", "item": "F1", "from": "safe"},
            {"type": "hand_over", "firearm": "F1", "to": "pat", "scene": "S1"},
        ],
    )
    assert outcome is not None
    assert outcome.rule == "INSPECTION_REQUIRED"
    holds(service, book)


def test_a_firearm_put_back_in_the_safe_is_inspected_again_before_a_handover(
    production: tuple[CommandService, str],
) -> None:
    service, book = production
    outcome = run(
        service,
        book,
        [
            {"type": "check_out", "item": "F1", "from": "safe"},
            inspection("F1", *["empty"] * 6, purpose="pre_handover"),
            {"type": "store", "item": "F1", "location": "safe"},
            {"type": "check_out", "item": "F1", "from": "safe"},
            {"type": "hand_over", "firearm": "F1", "to": "pat", "scene": "S1"},
        ],
    )
    assert outcome is not None
    assert outcome.rule == "INSPECTION_REQUIRED"
    holds(service, book)


@pytest.mark.parametrize("found", ["empty", "unknown"])
def test_an_inspection_that_misses_a_loaded_round_does_not_take_it_off_the_books(
    production: tuple[CommandService, str], found: str
) -> None:
    service, book = production
    outcome = run(service, book, [*DUMMY_IN_ONE, inspection("F1", found, *["empty"] * 5)])
    assert outcome is not None
    holds(service, book)


def test_a_round_found_to_be_a_blank_never_goes_back_into_a_box_of_dummies(
    production: tuple[CommandService, str],
) -> None:
    service, book = production
    run(
        service,
        book,
        [
            *DUMMY_IN_ONE,
            inspection("F1", "blank", *["empty"] * 5),
            {"type": "unload", "firearm": "F1", "rounds": [{"chamber": 1, "to": "D1"}]},
        ],
    )
    holds(service, book)


def test_a_fired_case_never_goes_back_into_the_box_of_blanks(
    production: tuple[CommandService, str],
) -> None:
    service, book = production
    run(
        service,
        book,
        [
            {"type": "check_out", "item": "F2", "from": "safe"},
            {"type": "check_out", "item": "B1", "from": "safe"},
            {"type": "load", "firearm": "F2", "scene": "S2",
             "rounds": [{"chamber": 1, "box": "B1"}]},
            inspection("F2", "blank", "empty", "empty", purpose="pre_handover"),
            {"type": "hand_over", "firearm": "F2", "to": "pat", "scene": "S2"},
            {"type": "take_back", "firearm": "F2", "from": "pat", "rounds_fired": 1},
            inspection("F2", "spent", "empty", "empty", purpose="after_return"),
            {"type": "unload", "firearm": "F2", "rounds": [{"chamber": 1, "to": "B1"}]},
        ],
    )  # fmt: skip
    holds(service, book)


# The invariants themselves: each catches the ledger that breaks it


def forged(kind: str, data: dict[str, Any], actor: str = ARMORER) -> tuple[str, str, Any]:
    return actor, kind, data


CHECKED_OUT = forged("checked_out", {"item": "F1", "from": "safe"})
LIVE_INCIDENT = forged(
    "incident_opened",
    {"incident": "INC-90", "kind": "live_round", "critical": True, "rule": None, "items": [],
     "description": "a live round in the cart"},
)  # fmt: skip
FORGERIES: dict[str, tuple[list[tuple[str, str, Any]], str]] = {
    "a box of live rounds": (
        [
            forged(
                "box_received",
                {
                    "box": "L1",
                    "label": "live",
                    "kind": "live",
                    "calibre": ".45 Colt",
                    "maker": "M",
                    "maker_lot": "L",
                    "count": 6,
                    "from": {"source": "a private person"},
                    "location": "safe",
                },
            )
        ],
        "invariant 1: entry 28 receives box L1 of live rounds",
    ),
    "a live round resolved without an inventory": (
        [
            LIVE_INCIDENT,
            forged(
                "incident_resolved",
                {"incident": "INC-90", "resolution": "gone", "approvers": ["ana", "sam"]},
            ),
        ],
        "without a full inventory",
    ),
    "an incident resolved by one person": (
        [
            LIVE_INCIDENT,
            forged(
                "incident_resolved",
                {"incident": "INC-90", "resolution": "gone", "approvers": ["ana", "ana"]},
            ),
        ],
        "not an armorer and a safety person",
    ),
    "a handover on the inspection at intake": (
        [CHECKED_OUT, forged("firearm_handed_over", {"firearm": "F1", "to": "pat", "scene": "S1"})],
        "invariant 2: entry 29 hands F1 to pat for scene S1: its last inspection (entry 20) is "
        "older than the step that put it back in the armorer's hands (entry 28)",
    ),
    "a handover on an inspection nobody witnessed": (
        [
            CHECKED_OUT,
            forged(
                "firearm_inspected",
                {
                    "firearm": "F1",
                    "purpose": "pre_handover",
                    "bore_clear": True,
                    "clear": True,
                    "chambers": [{"n": n, "content": "empty"} for n in range(1, 7)],
                    "witnesses": ["pat"],
                },
            ),
            forged("firearm_handed_over", {"firearm": "F1", "to": "pat", "scene": "S1"}),
        ],
        "no first AD witnessed inspection 29",
    ),
    "a handover to a performer who refused it": (
        [
            forged("refusal_recorded", {"firearm": "F3", "reason": "not today"}, actor="pat"),
            forged("checked_out", {"item": "F3", "from": "safe"}),
            forged("firearm_handed_over", {"firearm": "F3", "to": "pat", "scene": "S1"}),
        ],
        "hands F3 to pat for scene S1, who refused to handle it on 2026-11-24",
    ),
    "a handover by the first AD": (
        [
            CHECKED_OUT,
            forged(
                "firearm_handed_over", {"firearm": "F1", "to": "pat", "scene": "S1"}, actor="dan"
            ),
        ],
        "dan is not an armorer",
    ),
    "a handover while a live round is reported": (
        [
            CHECKED_OUT,
            LIVE_INCIDENT,
            forged("firearm_handed_over", {"firearm": "F1", "to": "pat", "scene": "S1"}),
        ],
        "while critical incident INC-90",
    ),
    "more rounds disposed of than the box holds": (
        [forged("rounds_disposed", {"box": "D2", "count": 7, "reason": "wet"})],
        "invariant 3: entry 28 leaves box D2 with -1 rounds",
    ),
    "a round loaded into a chamber that holds one": (
        [CHECKED_OUT]
        + [
            forged(
                "firearm_loaded",
                {"firearm": "F1", "scene": "S1", "rounds": [{"chamber": 1, "box": "D1"}]},
            )
        ]
        * 2,
        "loads chamber 1 of F1, which already holds a round from box D1",
    ),
    "a pause with a firearm out": (
        [CHECKED_OUT, forged("day_paused", {"reason": "lunch"})],
        "invariant 4: entry 29 (pause) leaves F1 out of locked storage",
    ),
    "a close count that differs with no incident": (
        [forged("day_closed", {"counts": {"D1": 11}})],
        "the close count of box D1 is 11, the ledger says 12, and no incident was opened",
    ),
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_the_invariants_catch_a_ledger_that_breaks_them(
    production: tuple[CommandService, str], name: str
) -> None:
    service, book = production
    holds(service, book)
    steps, message = FORGERIES[name]
    for actor, kind, data in steps:
        service.ledger.append(book, [Draft.of(actor, kind, data)])
    with pytest.raises(InvariantViolation, match=re.escape(message)):
        check_invariants(fold_of(service, book), entries(service, book))


def test_the_invariants_catch_a_state_that_is_not_the_fold_of_the_ledger(
    production: tuple[CommandService, str],
) -> None:
    service, book = production
    ledger = entries(service, book)
    with pytest.raises(InvariantViolation, match="invariant 5"):
        check_invariants(fold_of(service, book), ledger[:-1])
    shown = replace(fold_of(service, book), people={})
    with pytest.raises(InvariantViolation, match="invariant 5: the state shown differs"):
        check_invariants(shown, ledger)
