"""A production "on set", ready for the rules to be tried one step at a time.

The `on_set` fixture builds a production book in memory with the people, places, firearms,
boxes, day, scenes and safety meetings that the usual day of shooting needs. The command
builders below write the commands with the field names of SPEC §4.2, and `OnSet` runs them as a
person: `do` expects the command to be accepted, `attempt` returns whatever happened.

People (one PIN each, distinctive so that a PIN leaking into the ledger would be found):
  ana  armorer                       asa  assistant armorer
  dave first AD                      lee  performer, trained, current
  pat  performer without training    sam  safety supervisor
  cal  crew                          ivy  investigator
  root the server's admin (an account only, not enrolled)
  nob  an account that is not enrolled in the book
  abe  not on the server yet: a test adds him as a second armorer

Places: `safe` (locked, ana holds the key) and `cart` (not locked).
Firearms: `R1`, a functional .45 Colt revolver with six chambers, intake-inspected all empty;
`RG`, a rubber revolver. Boxes: `D1` (50 dummies, .45 Colt), `BL1` (50 full-load blanks,
.45 Colt), `D9` (50 dummies, 9mm). Everything is stored in the safe.
The day `TODAY` is open. Scene `S1` is planned with R1 and lee, no blanks; scene `S2` with R1 and
lee, full-load blanks at 25 ft. Lee and ana attended the safety meetings of both today.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from armory.adapters.memory import InMemoryAccounts, InMemoryLedgerStore
from armory.domain.evolve import Recorded
from armory.domain.state import BookState, Box, Firearm
from armory.ledger.entry import Entry
from armory.services.commands import CommandService, Outcome
from armory.services.ledger import LedgerService
from armory.services.ports import Account
from tests.contract.conftest import TEST_SIGNER, TickingClock

BOOK = "prod"
TODAY = "2026-11-24"  # the date of TickingClock's start
TOMORROW = "2026-11-25"
CALIBRE = ".45 Colt"

PINS: dict[str, str] = {
    "ana": "48151623",
    "asa": "57721566",
    "dave": "27182818",
    "lee": "31415926",
    "pat": "16180339",
    "sam": "14142135",
    "cal": "17320508",
    "ivy": "22360679",
    "root": "26457513",
    "nob": "30102999",
    "abe": "66260701",
    "max": "29979245",
}
WRONG_PIN = "90909090"

ENROLMENTS: dict[str, tuple[str, list[str]]] = {
    "asa": ("Asa Assistant", ["assistant_armorer"]),
    "dave": ("Dave First-AD", ["first_ad"]),
    "lee": ("Lee Lead", ["performer"]),
    "pat": ("Pat Player", ["performer"]),
    "sam": ("Sam Safety", ["safety"]),
    "cal": ("Cal Crew", ["crew"]),
    "ivy": ("Ivy Investigator", ["investigator"]),
}

Command = dict[str, Any]


# --- command builders: one JSON command each, with the spec's field names ---


def pin(person: str, value: str | None = None) -> dict[str, str]:
    """A person confirming with their PIN (their own one unless another is given)."""
    return {"person": person, "pin": PINS[person] if value is None else value}


def findings(*contents: str | tuple[str, str]) -> list[dict[str, Any]]:
    """Chamber findings, numbered from 1: a content, or a (content, box) pair."""
    found: list[dict[str, Any]] = []
    for n, content in enumerate(contents, start=1):
        if isinstance(content, tuple):
            found.append({"n": n, "content": content[0], "box": content[1]})
        else:
            found.append({"n": n, "content": content})
    return found


EMPTY_SIX = ("empty",) * 6


def enroll_person(person: str, name: str, roles: Sequence[str]) -> Command:
    return {"type": "enroll_person", "person": person, "name": name, "roles": list(roles)}


def record_training(
    person: str, completed_on: str = "2026-01-10", expires_on: str | None = "2027-01-10"
) -> Command:
    command: Command = {
        "type": "record_training",
        "person": person,
        "course": "Firearms safety for performers",
        "completed_on": completed_on,
    }
    if expires_on is not None:
        command["expires_on"] = expires_on
    return command


def register_location(location: str, kind: str, locked: bool) -> Command:
    return {
        "type": "register_location",
        "location": location,
        "name": location.title(),
        "kind": kind,
        "locked": locked,
        "keyholders": ["ana"],
    }


def receive_firearm(
    firearm: str,
    kind: str = "functional",
    calibre: str = CALIBRE,
    chambers: int = 6,
    location: str = "safe",
) -> Command:
    return {
        "type": "receive_firearm",
        "firearm": firearm,
        "serial": f"SN-{firearm}",
        "make": "Pietta",
        "model": "1873 SAA",
        "calibre": calibre,
        "kind": kind,
        "chambers": chambers,
        "from": {"source": "bought from the rental house's shop, receipt 1138"},
        "location": location,
    }


def receive_box(
    box: str,
    kind: str = "dummy",
    count: int = 50,
    calibre: str = CALIBRE,
    load: str | None = None,
    location: str = "safe",
) -> Command:
    command: Command = {
        "type": "receive_box",
        "box": box,
        "label": f"{calibre} {kind}s".upper(),
        "kind": kind,
        "calibre": calibre,
        "maker": "Starline",
        "maker_lot": f"LOT-{box}",
        "count": count,
        "from": {"source": "rental house counter"},
        "location": location,
    }
    if load is not None:
        command["load"] = load
    return command


def open_day(
    date: str, counts: dict[str, int], sole_duty: bool = True, firearms: Sequence[str] = ("R1",)
) -> Command:
    return {
        "type": "open_day",
        "date": date,
        "sole_duty": sole_duty,
        "counts": counts,
        "firearms": list(firearms),
    }


def close_day(counts: dict[str, int]) -> Command:
    return {"type": "close_day", "counts": counts}


def pause_day(reason: str = "lunch") -> Command:
    return {"type": "pause_day", "reason": reason}


def resume_day() -> Command:
    return {"type": "resume_day"}


def plan_scene(
    scene: str,
    firearms: Sequence[str] = ("R1",),
    performers: Sequence[str] = ("lee",),
    blanks: str | None = None,
    min_distance_ft: int | None = None,
    approver: str = "dave",
    approver_pin: str | None = None,
    date: str = TODAY,
) -> Command:
    command: Command = {
        "type": "plan_scene",
        "scene": scene,
        "date": date,
        "title": f"Scene {scene}",
        "firearms": list(firearms),
        "performers": list(performers),
        "blanks": blanks,
        "muzzle_toward_person": False,
        "approved_by": pin(approver, approver_pin),
    }
    if min_distance_ft is not None:
        command["min_distance_ft"] = min_distance_ft
    return command


ALL_TOPICS = [
    "action",
    "deviations",
    "abort",
    "emergency",
    "chain_of_command",
    "protective_equipment",
]


def hold_safety_meeting(scene: str, attendees: Sequence[str] = ("ana", "lee")) -> Command:
    return {
        "type": "hold_safety_meeting",
        "scene": scene,
        "attendees": list(attendees),
        "topics": ALL_TOPICS,
    }


def check_out(item: str, from_: str = "safe") -> Command:
    return {"type": "check_out", "item": item, "from": from_}


def store(item: str, location: str = "safe") -> Command:
    return {"type": "store", "item": item, "location": location}


def verify_box(box: str, count: int = 50, method: str = "rattle") -> Command:
    return {"type": "verify_box", "box": box, "count": count, "method": method, "every_round": True}


def inspect(
    firearm: str = "R1",
    purpose: str = "pre_handover",
    contents: Sequence[str | tuple[str, str]] = EMPTY_SIX,
    witnesses: Iterable[str | dict[str, str]] = ("lee", "dave"),
    bore_clear: bool = True,
) -> Command:
    return {
        "type": "inspect",
        "firearm": firearm,
        "purpose": purpose,
        "chambers": findings(*contents),
        "bore_clear": bore_clear,
        "witnesses": [w if isinstance(w, dict) else pin(w) for w in witnesses],
    }


def load(
    firearm: str = "R1", scene: str = "S1", box: str = "D1", chambers: Iterable[int] = range(1, 7)
) -> Command:
    return {
        "type": "load",
        "firearm": firearm,
        "scene": scene,
        "rounds": [{"chamber": n, "box": box} for n in chambers],
    }


def unload(
    firearm: str = "R1",
    to: str = "D1",
    chambers: Iterable[int] = range(1, 7),
    evidence_case: str | None = None,
) -> Command:
    command: Command = {
        "type": "unload",
        "firearm": firearm,
        "rounds": [{"chamber": n, "to": to} for n in chambers],
    }
    if evidence_case is not None:
        command["evidence_case"] = evidence_case
    return command


def hand_over(firearm: str = "R1", to: str = "lee", scene: str = "S1") -> Command:
    return {"type": "hand_over", "firearm": firearm, "to": to, "scene": scene}


def take_back(firearm: str = "R1", from_: str = "lee", rounds_fired: int = 0) -> Command:
    return {"type": "take_back", "firearm": firearm, "from": from_, "rounds_fired": rounds_fired}


def declare(scene: str = "S1", status: str = "cold", firearms: Sequence[str] = ("R1",)) -> Command:
    return {
        "type": "declare",
        "scene": scene,
        "status": status,
        "firearms": list(firearms),
        "announced_by": "dave",
    }


def move_rounds(from_: str, to: str, count: int) -> Command:
    return {"type": "move_rounds", "from": from_, "to": to, "count": count}


def dispose(box: str, count: int, reason: str = "damaged in the rain") -> Command:
    return {"type": "dispose", "box": box, "count": count, "reason": reason}


def report_live_round(box: str = "D1") -> Command:
    return {
        "type": "report_live_round",
        "where": {"box": box},
        "description": "a round with a primer and no hole among the dummies",
    }


def report_incident(kind: str = "discharge", items: Sequence[str] = ("R1",)) -> Command:
    return {
        "type": "report_incident",
        "kind": kind,
        "description": f"{kind} on the stage",
        "items": list(items),
    }


def resolve_incident(incident: str, approvers: Sequence[str] = ("ana", "sam")) -> Command:
    return {
        "type": "resolve_incident",
        "incident": incident,
        "resolution": "explained, counted and secured",
        "approvals": [pin(person) for person in approvers],
    }


def open_case(case: str = "CASE-1", incident: str | None = None) -> Command:
    command: Command = {"type": "open_case", "case": case, "agency": "Sheriff", "officer": "Hale"}
    if incident is not None:
        command["incident"] = incident
    return command


def hold_as_evidence(items: Sequence[str], case: str = "CASE-1") -> Command:
    return {"type": "hold_as_evidence", "case": case, "items": list(items)}


def release_evidence(items: Sequence[str], case: str = "CASE-1") -> Command:
    return {"type": "release_evidence", "case": case, "items": list(items)}


def return_to_supplier(item: str = "R1", to: str = "rental") -> Command:
    return {"type": "return_to_supplier", "item": item, "to": to}


def refuse_to_handle(firearm: str = "R1") -> Command:
    return {"type": "refuse_to_handle", "firearm": firearm, "reason": "I do not feel safe"}


def with_override(
    command: Command, approvers: Iterable[str | dict[str, str]] = ("ana", "sam")
) -> Command:
    """The command with a two-person override (approvers confirm with their PINs)."""
    return {
        **command,
        "override": {
            "reason": "the stunt coordinator's plan, reviewed on set",
            "approvals": [a if isinstance(a, dict) else pin(a) for a in approvers],
        },
    }


# --- the set ---


@dataclass
class OnSet:
    """A production book and the people acting on it."""

    ledger: LedgerService
    accounts: InMemoryAccounts
    service: CommandService
    book: str = BOOK

    def attempt(self, actor: str, command: object) -> Outcome:
        """Send the command as `actor`: accepted or refused, whatever the rules say."""
        return self.service.execute(self.book, actor, command)

    def do(self, actor: str, command: Command) -> Outcome:
        """Send a command that must be accepted."""
        outcome = self.attempt(actor, command)
        assert outcome.ok, f"{command['type']} was refused: {outcome.rule}: {outcome.message}"
        return outcome

    def refused(self, actor: str, command: Command) -> str | None:
        """Send a command expected to be refused; the rule it was refused by."""
        outcome = self.attempt(actor, command)
        assert not outcome.ok, f"{command['type']} was accepted"
        return outcome.rule

    @property
    def state(self) -> BookState:
        return self.service.state(self.book)

    @property
    def store(self) -> InMemoryLedgerStore:
        store = self.ledger.store
        assert isinstance(store, InMemoryLedgerStore)
        return store

    @property
    def size(self) -> int:
        return self.ledger.store.size(self.book)

    def entries(self, start: int = 0) -> list[Entry]:
        return list(self.ledger.entries(self.book, start))

    def recorded(self, start: int = 0) -> list[Recorded]:
        """The book's entries as the domain sees them."""
        return [Recorded(e.index, e.time, e.actor, e.type, e.data) for e in self.entries(start)]

    def raw(self) -> bytes:
        """Every byte the ledger holds for the book."""
        return b"\n".join(entry.raw for entry in self.entries())

    def open_incident(self) -> str:
        """The id of the open critical incident."""
        incident = self.state.frozen_by
        assert incident is not None
        return incident.id

    # The usual steps, each expected to pass

    def add_person(self, person: str, name: str, roles: Sequence[str]) -> None:
        """An account on the server, enrolled in the book."""
        self.accounts.add(Account(person, name, is_admin=False), "password1", PINS[person])
        self.do("ana", enroll_person(person, name, roles))

    def checked_out(self, *items: str) -> None:
        for item in items:
            self.do("ana", check_out(item))

    def verified(self, box: str = "D1") -> None:
        count = self.state.boxes[box].count
        method = "crimped" if self.state.boxes[box].kind == "blank" else "rattle"
        self.do("ana", verify_box(box, count, method))

    def inspected(
        self,
        firearm: str = "R1",
        contents: Sequence[str | tuple[str, str]] = EMPTY_SIX,
        witnesses: Iterable[str] = ("lee", "dave"),
        purpose: str = "pre_handover",
    ) -> None:
        self.do("ana", inspect(firearm, purpose, contents, witnesses))

    def loaded_with_dummies(self, firearm: str = "R1", scene: str = "S1") -> None:
        """R1 and D1 in ana's hands, D1 verified, six dummies in R1's chambers."""
        self.checked_out(firearm, "D1")
        self.verified("D1")
        self.do("ana", load(firearm, scene, "D1"))

    def loaded_with_blanks(self, firearm: str = "R1", scene: str = "S2") -> None:
        """R1 and BL1 in ana's hands, six full-load blanks in R1's chambers."""
        self.checked_out(firearm, "BL1")
        self.do("ana", load(firearm, scene, "BL1"))

    def ready_to_hand_over(self, firearm: str = "R1") -> None:
        """R1 loaded with verified dummies, inspected and witnessed by lee and dave."""
        self.loaded_with_dummies(firearm)
        self.inspected(firearm, [("dummy", "D1")] * 6)

    def handed_over(self, firearm: str = "R1", to: str = "lee", scene: str = "S1") -> None:
        self.ready_to_hand_over(firearm)
        self.do("ana", hand_over(firearm, to, scene))

    def everything_stored(self) -> None:
        """Every firearm and box that is in ana's hands back in the safe."""
        state = self.state
        items: list[Firearm | Box] = [*state.firearms.values(), *state.boxes.values()]
        for item in items:
            if item.custody.kind == "armorer":
                self.do("ana", store(item.id))

    def counts(self) -> dict[str, int]:
        """The ledger's count of every box (what a correct physical count finds)."""
        return {box.id: box.count for box in self.state.boxes.values()}


def new_set() -> OnSet:
    """A production book with its admin and armorer, and nothing else."""
    ledger = LedgerService(InMemoryLedgerStore(), TEST_SIGNER, TickingClock(), "test.node")
    accounts = InMemoryAccounts()
    accounts.add(Account("root", "Root Admin", is_admin=True), "password1", PINS["root"])
    accounts.add(Account("ana", "Ana Armorer", is_admin=False), "password1", PINS["ana"])
    accounts.add(Account("nob", "Nobody Here", is_admin=False), "password1", PINS["nob"])
    ledger.create_book(BOOK, "production", "Prod", "root")
    production = OnSet(ledger, accounts, CommandService(ledger, accounts))
    production.do("root", enroll_person("ana", "Ana Armorer", ["armorer"]))
    return production


def build_on_set() -> OnSet:
    """The production described at the top of this module, one step before any rule."""
    production = new_set()
    for person, (name, roles) in ENROLMENTS.items():
        production.add_person(person, name, roles)
    production.do("ana", record_training("lee"))
    production.do("ana", register_location("safe", "safe", locked=True))
    production.do("ana", register_location("cart", "cart", locked=False))
    production.do("ana", receive_firearm("R1"))
    production.do("ana", receive_firearm("RG", kind="rubber"))
    production.do("ana", receive_box("D1"))
    production.do("ana", receive_box("BL1", kind="blank", load="full"))
    production.do("ana", receive_box("D9", calibre="9mm"))
    production.do("ana", inspect("R1", "intake", witnesses=()))
    production.do("ana", open_day(TODAY, {"D1": 50, "BL1": 50, "D9": 50}, firearms=["R1", "RG"]))
    production.do("ana", plan_scene("S1"))
    production.do("ana", plan_scene("S2", blanks="full", min_distance_ft=25))
    production.do("dave", hold_safety_meeting("S1"))
    production.do("dave", hold_safety_meeting("S2"))
    return production


@pytest.fixture
def on_set() -> OnSet:
    return build_on_set()
