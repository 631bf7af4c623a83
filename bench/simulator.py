"""A seeded production, shot day after day: the command stream the protocol benchmark replays.

`simulate(production)` yields every command of a whole shoot in order, each with the person who
sends it, the rule it is meant to be refused by (None when it must be accepted) and how many
ledger entries it records. The set-up comes first: people enrolled and trained, places, firearms
and boxes received, intake inspections. Then each shooting day: the day opened with a count of
every box, the scenes planned and approved by the first AD's PIN, the safety meetings, and for
every take of every scene the protocol an armorer follows (check out, verify the dummies round
by round, load, a pre_handover inspection witnessed by the performer and the first AD, declare
cold or hot, hand over, take back, inspect after the return, unload the spent rounds and the
unfired ones back to their box), lunch with everything locked away, and the close with a count.

The odd mistake and the odd incident are part of the stream, because they are part of a shoot:
a hand over attempted before the witnessed inspection, a first AD calling "cold", a pause with a
box still on the cart, a witness mistyping a PIN, a misfire, a near miss, a count that does not
match, a performer refusing a firearm, and one live round found on the props cart, which
freezes the production until an armorer and the safety supervisor resolve it after a full
inventory. Each is exactly one of the intended refusals or findings: a command the rules answer
otherwise, or an `error`, is a bug here.

The simulator keeps its own model of every firearm and box (where it is, what each chamber
holds, whether its inspection or verification still stands) so that it can tell in advance what
the rules will say, and count entries to know the ids the server gives to incidents.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import SEED

Command = dict[str, Any]

ADMIN = "ops"
ARMORER = "kim"
ASSISTANT = "ola"
FIRST_AD = "dana"
SECOND_AD = "eli"  # the first AD of the second unit, who covers some days
SAFETY = "sam"
CREW = ("cal", "maya")
SUPPLIER = "rental-house"

TOPICS = ["action", "deviations", "abort", "emergency", "chain_of_command", "protective_equipment"]
SAFES = ("safe-1", "safe-2")
MAGAZINE = "truck"  # the locked ammunition store in the armory truck
CART = "cart"  # the props cart: not lockable
CASE_OF_BLANKS = 500  # a restock delivery: one case per box id


@dataclass(frozen=True)
class Production:
    """How big the simulated production is. FULL_PRODUCTION meets the scale asked for (60 days,
    40 firearms, 200 boxes, 30 performers, 20 scenes a day); its firearms per scene and takes
    per scene are set so that the book passes 1,000,000 entries."""

    days: int
    scenes_per_day: int
    firearms: int
    boxes: int
    performers: int
    cast_per_day: int  # performers called on one day (fewer than the whole cast, as on a shoot)
    firearms_per_scene: tuple[int, int]
    takes_per_scene: tuple[int, int]
    slip_rate: float = 0.01  # share of hand overs first attempted before the witnessed inspection
    misfire_rate: float = 0.002  # per firearm and blank take
    seed: int = SEED
    first_day: date = date(2027, 3, 1)


FULL_PRODUCTION = Production(
    days=60,
    scenes_per_day=20,
    firearms=40,
    boxes=200,
    performers=30,
    cast_per_day=16,
    firearms_per_scene=(3, 8),
    takes_per_scene=(24, 40),
)
# A smoke test: two days, yet every kind of mistake and incident above happens in it.
QUICK_PRODUCTION = Production(
    days=2,
    scenes_per_day=6,
    firearms=12,
    boxes=40,
    performers=8,
    cast_per_day=8,
    firearms_per_scene=(2, 4),
    takes_per_scene=(2, 4),
    slip_rate=0.05,
    misfire_rate=0.02,
)


@dataclass(frozen=True)
class Person:
    """An account on the node, and (unless it is the node's admin) an enrolment in the book."""

    id: str
    name: str
    roles: tuple[str, ...]
    pin: str
    password: str
    is_admin: bool = False


@dataclass(frozen=True)
class Step:
    """One command as `actor` sends it; `expect` is the rule meant to refuse it (None: it must
    be accepted); `entries` is how many ledger entries it records either way."""

    actor: str
    command: Command
    expect: str | None = None
    entries: int = 1


# --- the catalogue ---

# make, model, calibre, kind, chambers (the chamber plus the magazine for a pistol)
FIREARMS = (
    ("Uberti", "1873 Cattleman", ".45 Colt", "functional", 6),
    ("Pietta", "1873 Single Action Army", ".45 Colt", "functional", 6),
    ("Smith & Wesson", "Model 10", ".38 Special", "functional", 6),
    ("Beretta", "92FS", "9mm", "functional", 16),
    ("Winchester", "1892", ".44-40", "functional", 11),
    ("Colt", "Detective Special", ".38 Special", "functional", 6),
    ("Glock", "17", "9mm", "functional", 18),
    ("Remington", "870", "12ga", "functional", 5),
    ("Zoraki", "917", "9mm P.A.K.", "blank_firing", 16),
    ("Denix", "1873 replica", ".45 Colt", "non_firing", 6),
    ("Prop shop", "rubber Single Action Army", ".45 Colt", "rubber", 6),
)
LOADABLE = ("functional", "blank_firing")
# What each kind of box holds: kind, calibre, load. Dummies exist for every calibre a functional
# firearm takes; blanks in the usual loads, and specialty (short-distance) loads for two.
BOX_TYPES = (
    ("dummy", ".45 Colt", None),
    ("dummy", ".38 Special", None),
    ("dummy", "9mm", None),
    ("dummy", ".44-40", None),
    ("dummy", "12ga", None),
    ("blank", ".45 Colt", "quarter"),
    ("blank", ".45 Colt", "half"),
    ("blank", ".45 Colt", "full"),
    ("blank", ".45 Colt", "specialty"),
    ("blank", ".38 Special", "quarter"),
    ("blank", ".38 Special", "half"),
    ("blank", ".38 Special", "full"),
    ("blank", "9mm", "quarter"),
    ("blank", "9mm", "half"),
    ("blank", "9mm", "full"),
    ("blank", "9mm", "specialty"),
    ("blank", ".44-40", "half"),
    ("blank", ".44-40", "full"),
    ("blank", "12ga", "half"),
    ("blank", "12ga", "full"),
    ("blank", "9mm P.A.K.", "half"),
    ("blank", "9mm P.A.K.", "full"),
)
MAKERS = {"dummy": ("Starline", "Inert Products"), "blank": ("Blank Solutions", "Stembridge")}
FIRST_NAMES = (
    "Alex", "Bea", "Carl", "Dina", "Emil", "Fay", "Gus", "Hana", "Ivo", "Jo", "Kai", "Lena",
    "Milo", "Nia", "Omar", "Pia", "Quinn", "Rosa", "Stan", "Tess", "Uma", "Vic", "Wes", "Xena",
    "Yuri", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Abbott", "Baker", "Chen", "Diaz", "Evans", "Fox", "Gray", "Hill", "Ito", "Jones", "Khan",
    "Lund", "Moss", "Nash", "Ortiz", "Price", "Reyes", "Shaw", "Tran", "Vega", "Wolfe", "Young",
)  # fmt: skip
TITLES = (
    "Saloon standoff", "Bank vault", "Alley chase", "Rooftop exchange", "Stagecoach ambush",
    "Warehouse raid", "Train car", "Motel parking lot", "Ranch porch", "Border checkpoint",
    "Courtroom escape", "Canyon ridge", "Pawn shop", "Harbour crates", "Hotel corridor",
)  # fmt: skip


def cast(production: Production) -> list[Person]:
    """Everyone with an account: the node's admin, the armory department, the first ADs, the
    safety supervisor, crew and the performers. PINs are seeded, distinct, six digits."""
    rng = random.Random(production.seed + 1)
    pins: set[str] = set()

    def new_pin() -> str:
        while True:
            pin = f"{rng.randrange(10**6):06d}"
            if pin not in pins and pin != pin[::-1]:  # a reversed PIN is the typo: must differ
                pins.add(pin)
                return pin

    staff = [
        (ADMIN, "Node Operations", (), True),
        (ARMORER, "Kim Armstrong", ("armorer",), False),
        (ASSISTANT, "Ola Brandt", ("assistant_armorer",), False),
        (FIRST_AD, "Dana Whitfield", ("first_ad",), False),
        (SECOND_AD, "Eli Navarro", ("first_ad",), False),
        (SAFETY, "Sam Okafor", ("safety",), False),
        (CREW[0], "Cal Doyle", ("crew",), False),
        (CREW[1], "Maya Lindqvist", ("crew",), False),
    ]
    people = [
        Person(i, name, roles, new_pin(), f"{i}-password", admin) for i, name, roles, admin in staff
    ]
    for n in range(1, production.performers + 1):
        first = FIRST_NAMES[(n * 7) % len(FIRST_NAMES)]
        last = LAST_NAMES[(n * 5) % len(LAST_NAMES)]
        pid = f"p{n:02d}"
        people.append(Person(pid, f"{first} {last}", ("performer",), new_pin(), f"{pid}-password"))
    return people


# --- the model the simulator keeps of the book ---


@dataclass
class _Gun:
    id: str
    calibre: str
    kind: str
    chambers: int
    home: str
    held: bool = False  # in the armorer's hands; otherwise in its safe, with a performer or gone
    gone: bool = False
    # chamber -> (content, box) of each round the ledger knows is in it
    rounds: dict[int, tuple[str, str]] = field(default_factory=dict)
    # (purpose, witnesses) of the inspection that still describes the firearm
    inspection: tuple[str, frozenset[str]] | None = None

    @property
    def loadable(self) -> bool:
        return self.kind in LOADABLE


@dataclass
class _Box:
    id: str
    kind: str
    calibre: str
    load: str | None
    count: int
    home: str
    held: bool = False
    verified: bool = False  # verified round by round today, and nothing moved into it since


@dataclass
class _Scene:
    id: str
    kind: str  # dry (no rounds), dummy or blank
    load: str | None
    guns: list[str]
    performers: list[str]
    takes: int
    distance: int | None


class _Shoot:
    """The production as the simulator plays it, writing commands into `out`."""

    def __init__(self, production: Production) -> None:
        self.p = production
        self.rng = random.Random(production.seed)
        self.people = cast(production)
        self.pins = {person.id: person.pin for person in self.people}
        self.performers = [p.id for p in self.people if "performer" in p.roles]
        # The last performer is a day player who arrives untrained, a third of the way in.
        self.day_player = self.performers[-1]
        self.day_player_from = production.days // 3
        self.trained: set[str] = set()
        self.size = 1  # entry 0 records the book's creation
        self.out: list[Step] = []
        self.guns: dict[str, _Gun] = {}
        self.boxes: dict[str, _Box] = {}
        self.lots = 0
        self.today = ""
        self.day = 0
        self.armorer = ARMORER
        self.ad = FIRST_AD
        self.minor_incidents: list[str] = []  # open, not critical: resolved at the close
        self.count_incident: str | None = None  # opened at a close, resolved the next morning
        self.refused: set[tuple[str, str]] = set()  # (performer, firearm) refused today
        self.typo_due = False
        self.unverified_load_due = False
        self.close_draw_due = False
        self.misfire_due = True  # the first blank take that can misfire does: it is in every run

    # Writing commands

    def emit(
        self, actor: str, command: Command, expect: str | None = None, entries: int = 1
    ) -> int:
        """Record the command; the ledger index of its first entry."""
        index = self.size
        self.out.append(Step(actor, command, expect, entries))
        self.size += entries
        return index

    def confirm(self, person: str, typo: bool = False) -> dict[str, str]:
        pin = self.pins[person]
        return {"person": person, "pin": pin[::-1] if typo else pin}

    @property
    def resolver(self) -> str:
        # Only an armorer (not an assistant) or the safety supervisor resolves an incident.
        return ARMORER if self.armorer == ARMORER else SAFETY

    def resolve(self, incident: str, resolution: str) -> None:
        self.emit(
            self.resolver,
            {
                "type": "resolve_incident",
                "incident": incident,
                "resolution": resolution,
                "approvals": [self.confirm(ARMORER), self.confirm(SAFETY)],
            },
        )

    # The set-up

    def setup(self) -> None:
        for person in self.people:
            if not person.is_admin:
                self.emit(
                    ADMIN,
                    {
                        "type": "enroll_person",
                        "person": person.id,
                        "name": person.name,
                        "roles": list(person.roles),
                    },
                )
        start = self.p.first_day
        for performer in self.performers:
            if performer != self.day_player:
                self.train(performer, start - timedelta(days=40 + len(self.trained) % 20))
        locations = [
            (SAFES[0], "Armory safe A, truck 1", "safe", True),
            (SAFES[1], "Armory safe B, truck 1", "safe", True),
            (MAGAZINE, "Ammunition locker, truck 2", "vehicle", True),
            (CART, "Props cart", "cart", False),
            ("stage", "Stage 4", "set", False),
        ]
        for location, name, kind, locked in locations:
            self.emit(
                ARMORER,
                {
                    "type": "register_location",
                    "location": location,
                    "name": name,
                    "kind": kind,
                    "locked": locked,
                    "keyholders": [ARMORER, ASSISTANT] if locked else [],
                },
            )
        for n in range(self.p.firearms):
            self.receive_firearm(n)
        for n in range(self.p.boxes):
            kind, calibre, load = BOX_TYPES[n % len(BOX_TYPES)]
            self.receive_box(kind, calibre, load, 25 if calibre == "12ga" else 50)
        for gun in self.guns.values():
            if gun.loadable:
                self.inspect(gun, "intake", [])

    def train(self, performer: str, on: date) -> None:
        self.emit(
            self.armorer,
            {
                "type": "record_training",
                "person": performer,
                "course": "Firearms safety for performers (IWLMSC Bulletin #1)",
                "completed_on": on.isoformat(),
                "expires_on": (on + timedelta(days=365)).isoformat(),
                "permit": f"FS-{on.year}-{performer.upper()}",
            },
        )
        self.trained.add(performer)

    def receive_firearm(self, n: int) -> None:
        make, model, calibre, kind, chambers = FIREARMS[n % len(FIREARMS)]
        gun = _Gun(f"F{n + 1:02d}", calibre, kind, chambers, SAFES[n % 2])
        rounds = (0, "rental paperwork") if n % 5 else (1, "the production's own stock")
        self.emit(
            ARMORER,
            {
                "type": "receive_firearm",
                "firearm": gun.id,
                "serial": f"{make[:2].upper()}{self.rng.randrange(10**7):07d}",
                "make": make,
                "model": model,
                "calibre": calibre,
                "kind": kind,
                "chambers": chambers,
                "label": f"QR-{gun.id}",
                "from": {"source": f"{rounds[1]}, delivery note {4400 + n}"},
                "location": gun.home,
            },
        )
        self.guns[gun.id] = gun

    def receive_box(self, kind: str, calibre: str, load: str | None, count: int) -> _Box:
        self.lots += 1
        box = _Box(f"B{self.lots:03d}", kind, calibre, load, count, MAGAZINE)
        maker = MAKERS[kind][self.lots % 2]
        words = f"{load.upper()} LOAD BLANKS" if load else "DUMMIES"
        command: Command = {
            "type": "receive_box",
            "box": box.id,
            "label": f"{calibre.upper()} {words}" + (" (CASE)" if count > 50 else ""),
            "kind": kind,
            "calibre": calibre,
            "maker": maker,
            "maker_lot": f"{maker[:3].upper()}-{calibre.strip('.')[:3].upper()}-{self.lots:04d}",
            "count": count,
            "from": {"source": f"{maker}, invoice {9100 + self.lots}"},
            "location": box.home,
        }
        if load is not None:
            command["load"] = load
        self.emit(self.armorer, command)
        self.boxes[box.id] = box
        return box

    # Custody and condition

    def check_out(self, item: _Gun | _Box) -> None:
        if not item.held:
            self.emit(self.armorer, {"type": "check_out", "item": item.id, "from": item.home})
            item.held = True
            if isinstance(item, _Gun):
                item.inspection = None  # one made in storage does not count in the hands

    def store(self, item: _Gun | _Box) -> None:
        self.emit(self.armorer, {"type": "store", "item": item.id, "location": item.home})
        item.held = False
        if isinstance(item, _Gun):
            item.inspection = None

    def verify(self, box: _Box) -> None:
        method = "crimped" if box.kind == "blank" else self.rng.choice(("rattle", "drilled"))
        self.emit(
            self.armorer,
            {
                "type": "verify_box",
                "box": box.id,
                "count": box.count,
                "method": method,
                "every_round": True,
            },
        )
        box.verified = True

    def chambers(self, gun: _Gun) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for n in range(1, gun.chambers + 1):
            if n not in gun.rounds:
                found.append({"n": n, "content": "empty"})
                continue
            content, box = gun.rounds[n]
            chamber: dict[str, Any] = {"n": n, "content": content, "box": box}
            if content != "spent":
                chamber["method"] = "crimped" if content == "blank" else "rattle"
            found.append(chamber)
        return found

    def inspect(
        self, gun: _Gun, purpose: str, witnesses: list[str], typo: str | None = None
    ) -> None:
        command = {
            "type": "inspect",
            "firearm": gun.id,
            "purpose": purpose,
            "chambers": self.chambers(gun),
            "bore_clear": True,
            "witnesses": [self.confirm(w, typo=w == typo) for w in witnesses],
        }
        if typo is not None:
            self.emit(self.armorer, command, "PIN_INVALID")
            return
        self.emit(self.armorer, command)
        gun.inspection = (purpose, frozenset(witnesses))

    def load(self, gun: _Gun, scene: _Scene, box: _Box, count: int) -> None:
        chambers = range(1, count + 1)
        command = {
            "type": "load",
            "firearm": gun.id,
            "scene": scene.id,
            "rounds": [{"chamber": n, "box": box.id} for n in chambers],
        }
        if box.kind == "dummy" and not box.verified:
            self.emit(self.armorer, command, "DUMMIES_NOT_VERIFIED")
            self.verify(box)
        self.emit(self.armorer, command)
        for n in chambers:
            gun.rounds[n] = (box.kind, box.id)
        box.count -= count
        gun.inspection = None

    def unload(self, gun: _Gun) -> None:
        rounds = []
        for n, (content, box) in sorted(gun.rounds.items()):
            back = content != "spent"
            rounds.append({"chamber": n, "to": box if back else "spent"})
            if back:
                self.boxes[box].count += 1
                self.boxes[box].verified = False  # rounds put back end a verification
        self.emit(self.armorer, {"type": "unload", "firearm": gun.id, "rounds": rounds})
        gun.rounds.clear()
        gun.inspection = None

    def handover_rule(self, gun: _Gun, performer: str) -> str | None:
        """What the rules say to handing `gun` to `performer` now (the checks of SPEC §4.1 that
        the simulator can get wrong, in their order)."""
        if performer not in self.trained:
            return "TRAINING_REQUIRED"
        if gun.loadable:
            if gun.inspection is None:
                return "INSPECTION_REQUIRED"
            purpose, witnesses = gun.inspection
            if purpose != "pre_handover" or performer not in witnesses:
                return "WITNESS_REQUIRED"
        return None

    def hand_over(self, gun: _Gun, performer: str, scene: _Scene) -> None:
        command = {"type": "hand_over", "firearm": gun.id, "to": performer, "scene": scene.id}
        rule = self.handover_rule(gun, performer)
        if rule == "TRAINING_REQUIRED":
            # A day player arrives without a record: the armorer sees the card, records it.
            self.emit(self.armorer, command, rule)
            self.train(performer, date.fromisoformat(self.today))
            rule = self.handover_rule(gun, performer)
        assert rule is None, f"{gun.id} cannot be handed to {performer}: {rule}"
        self.emit(self.armorer, command)
        gun.held = False
        gun.inspection = None

    def take_back(self, gun: _Gun, performer: str, fired: int, misfires: int) -> None:
        command: Command = {
            "type": "take_back",
            "firearm": gun.id,
            "from": performer,
            "rounds_fired": fired,
        }
        if misfires:
            command["misfires"] = misfires
            index = self.emit(self.armorer, command, entries=2)
            self.minor_incidents.append(f"INC-{index + 1}")
        else:
            self.emit(self.armorer, command)
        gun.held = True
        gun.inspection = None

    # Boxes to load from

    def box_for(self, kind: str, calibre: str, load: str | None, rounds: int) -> _Box:
        """A box of that kind with at least `rounds` rounds, in the armorer's hands: one already
        out, else the first in store, else a new case from the supplier (blanks run out)."""
        matching = [
            b
            for b in self.boxes.values()
            if (b.kind, b.calibre, b.load) == (kind, calibre, load) and b.count >= rounds
        ]
        held = [b for b in matching if b.held]
        if held:
            return held[0]
        box = matching[0] if matching else self.receive_box(kind, calibre, load, CASE_OF_BLANKS)
        self.check_out(box)
        if kind == "blank":
            self.verify(box)  # a new box of blanks is checked round by round for its crimp
        return box

    # The day

    def shoot(self) -> Iterator[list[Step]]:
        self.setup()
        yield self.flush()
        for day in range(self.p.days):
            self.shooting_day(day)
            yield self.flush()
        if self.count_incident is not None:
            self.resolve(self.count_incident, "recounted at the wrap: the count was right")
            yield self.flush()

    def flush(self) -> list[Step]:
        steps, self.out = self.out, []
        return steps

    def dates(self) -> list[str]:
        found: list[str] = []
        moment = self.p.first_day
        while len(found) < self.p.days:
            if moment.weekday() < 5:
                found.append(moment.isoformat())
            moment += timedelta(days=1)
        return found

    def shooting_day(self, day: int) -> None:
        self.day = day
        self.today = self.dates()[day]
        self.armorer = ASSISTANT if day % 6 == 5 else ARMORER
        self.ad = SECOND_AD if day % 10 == 9 else FIRST_AD
        self.refused.clear()
        self.typo_due = day % 7 == 1
        self.unverified_load_due = day % 6 == 1
        self.close_draw_due = day % 9 == 0
        last = day == self.p.days - 1

        self.emit(
            self.armorer,
            {
                "type": "open_day",
                "date": self.today,
                "sole_duty": True,
                "counts": self.counts(),
                "firearms": [g.id for g in self.guns.values() if not g.gone],
            },
        )
        if self.count_incident is not None:
            # The round missing at last night's count turned up: two people close it.
            self.resolve(self.count_incident, "the missing dummy was found in the truck, recounted")
            self.count_incident = None

        scenes = [self.plan(day, n) for n in range(self.p.scenes_per_day)]
        for scene in scenes:
            attendees = [self.ad, self.armorer, *scene.performers]
            if scene.kind == "blank":
                attendees.append(SAFETY)
            self.emit(
                self.ad,
                {
                    "type": "hold_safety_meeting",
                    "scene": scene.id,
                    "attendees": attendees,
                    "topics": TOPICS,
                },
            )
        self.first_ad_reaches(day, scenes[0])

        lunch = len(scenes) // 2
        for n, scene in enumerate(scenes):
            if n == lunch:
                self.lunch(day)
            self.shoot_scene(day, n, scene)

        if last:
            self.return_to_supplier()
        self.wrap(day, last)

    def counts(self) -> dict[str, int]:
        """A physical count of every box, the empty ones too (a close must name them all)."""
        return {b.id: b.count for b in self.boxes.values()}

    def plan(self, day: int, n: int) -> _Scene:
        rng = self.rng
        roll = rng.random()
        kind = "dry" if roll < 0.25 else "dummy" if roll < 0.65 else "blank"
        load: str | None = None
        if kind == "blank":
            load = rng.choice(("quarter", "half", "full", "full", "specialty"))
        if kind == "dry":
            pool = [g for g in self.guns.values() if not g.gone]
        elif kind == "dummy":
            dummies = {t[1] for t in BOX_TYPES if t[0] == "dummy"}
            pool = [
                g for g in self.guns.values() if g.kind == "functional" and g.calibre in dummies
            ]
        else:
            blanks = {t[1] for t in BOX_TYPES if t[0] == "blank" and t[2] == load}
            pool = [g for g in self.guns.values() if g.loadable and g.calibre in blanks]
        pool = [g for g in pool if not g.gone]
        callable_performers = [
            p for p in self.performers if p != self.day_player or day >= self.day_player_from
        ]
        called = rng.sample(callable_performers, min(self.p.cast_per_day, len(callable_performers)))
        if day == self.day_player_from and n == 0:
            called = [self.day_player, *(p for p in called if p != self.day_player)]
        low, high = self.p.firearms_per_scene
        size = min(rng.randint(low, high), len(pool), len(called))
        guns = [g.id for g in rng.sample(pool, size)]
        if day == self.day_player_from and n == 0:
            performers = called[:size]  # the day player's first scene
        else:
            performers = rng.sample(called, size)
        scene = _Scene(
            id=f"D{day + 1:02d}-S{n + 1:02d}",
            kind=kind,
            load=load,
            guns=guns,
            performers=performers,
            takes=rng.randint(*self.p.takes_per_scene),
            distance=None,
        )
        command: Command = {
            "type": "plan_scene",
            "scene": scene.id,
            "date": self.today,
            "title": f"{TITLES[(day * 7 + n) % len(TITLES)]}, {kind} take",
            "firearms": scene.guns,
            "performers": scene.performers,
            "blanks": load,
            "muzzle_toward_person": False,
            "approved_by": self.confirm(self.ad),
        }
        if load is not None:
            scene.distance = 10 if load == "specialty" else rng.choice((20, 25, 30, 40))
            command["min_distance_ft"] = scene.distance
        if load not in (None, "specialty") and self.close_draw_due:
            self.close_draw_due = False
            # The stunt coordinator wants the draw at 15 ft: refused, then passed by a
            # two-person override that every report shows in red.
            close = {**command, "min_distance_ft": 15}
            self.emit(self.armorer, close, "BLANK_DISTANCE")
            override = {
                "reason": "stunt coordinator's plan at 15 ft, shields and eye protection, "
                "reviewed on set",
                "approvals": [self.confirm(ARMORER), self.confirm(SAFETY)],
            }
            self.emit(self.armorer, {**close, "override": override}, entries=2)
            scene.distance = 15
        else:
            self.emit(self.armorer, command)
        return scene

    def first_ad_reaches(self, day: int, scene: _Scene) -> None:
        """Some mornings the first AD, not the armorer, calls cold or reaches for a firearm."""
        if day % 4 == 0:
            self.emit(
                self.ad,
                {
                    "type": "declare",
                    "scene": scene.id,
                    "status": "cold",
                    "firearms": scene.guns,
                    "announced_by": self.ad,
                },
                "ARMORER_ONLY",
            )
        elif day % 4 == 1:
            self.emit(
                self.ad,
                {
                    "type": "hand_over",
                    "firearm": scene.guns[0],
                    "to": scene.performers[0],
                    "scene": scene.id,
                },
                "ARMORER_ONLY",
            )

    def lunch(self, day: int) -> None:
        held: list[_Gun | _Box] = [g for g in self.guns.values() if g.held]
        held += [b for b in self.boxes.values() if b.held]
        forgotten = held.pop() if day % 5 == 0 and held else None
        for item in held:
            self.store(item)
        pause = {"type": "pause_day", "reason": "lunch"}
        if forgotten is not None:
            # A box left on the cart: the pause is refused until it is locked away.
            self.emit(self.armorer, pause, "ITEMS_OUT")
            self.store(forgotten)
        self.emit(self.armorer, pause)
        self.emit(self.armorer, {"type": "resume_day"})

    def pairs(self, scene: _Scene) -> list[tuple[_Gun, str]]:
        """Who gets which firearm: the plan's order, swapped around a refusal standing today."""
        guns = list(scene.guns)
        performers = list(scene.performers)
        for i in range(len(guns)):
            if (performers[i], guns[i]) not in self.refused:
                continue
            for j in range(len(guns)):
                if (performers[i], guns[j]) not in self.refused and (
                    performers[j],
                    guns[i],
                ) not in self.refused:
                    performers[i], performers[j] = performers[j], performers[i]
                    break
        return [
            (self.guns[g], p)
            for g, p in zip(guns, performers, strict=True)
            if (p, g) not in self.refused
        ]

    def shoot_scene(self, day: int, n: int, scene: _Scene) -> None:
        if day == self.p.days // 2 and n == 1 and len(scene.guns) > 1:
            # A performer will not handle this firearm today; nobody may make them.
            performer, refused = scene.performers[0], scene.guns[0]
            self.emit(
                performer,
                {
                    "type": "refuse_to_handle",
                    "firearm": refused,
                    "reason": "it jammed on me yesterday; I do not feel safe with it",
                },
            )
            self.refused.add((performer, refused))
        pairs = self.pairs(scene)
        for gun, _ in pairs:
            self.check_out(gun)
        if scene.kind == "dummy":
            for gun, _ in pairs:
                rounds = min(gun.chambers, 6)
                box = self.box_for("dummy", gun.calibre, None, rounds)
                if not box.verified:
                    if self.unverified_load_due:
                        # Loading before the round-by-round check: `load` is refused first.
                        self.unverified_load_due = False
                    else:
                        self.verify(box)
                self.load(gun, scene, box, rounds)
        for take in range(scene.takes):
            self.incidents_before_take(day, n, take, scene, pairs)
            self.take(scene, pairs)
        if scene.kind == "dummy":
            for gun, _ in pairs:
                self.unload(gun)

    def take(self, scene: _Scene, pairs: list[tuple[_Gun, str]]) -> None:
        loaded: dict[str, int] = {}
        if scene.kind == "blank":
            for gun, _ in pairs:
                rounds = min(gun.chambers, self.rng.randint(2, 6))
                box = self.box_for("blank", gun.calibre, scene.load, rounds)
                self.load(gun, scene, box, rounds)
                loaded[gun.id] = rounds
        for gun, performer in pairs:
            if gun.loadable:
                self.inspect_for_handover(gun, performer, scene)
        self.emit(
            self.armorer,
            {
                "type": "declare",
                "scene": scene.id,
                "status": "hot" if scene.kind == "blank" else "cold",
                "firearms": [gun.id for gun, _ in pairs],
                "announced_by": self.ad,
            },
        )
        for gun, performer in pairs:
            self.hand_over(gun, performer, scene)
        for gun, performer in pairs:
            fired = misfires = 0
            if gun.id in loaded:
                fired, misfires = self.fire(gun, loaded[gun.id])
            self.take_back(gun, performer, fired, misfires)
        for gun, _ in pairs:
            if gun.loadable:
                self.inspect(gun, "after_return", [])
        if scene.kind == "blank":
            for gun, _ in pairs:
                self.unload(gun)

    def inspect_for_handover(self, gun: _Gun, performer: str, scene: _Scene) -> None:
        if self.rng.random() < self.p.slip_rate:
            # Reaching to hand over before the witnessed inspection: refused.
            command = {"type": "hand_over", "firearm": gun.id, "to": performer, "scene": scene.id}
            self.emit(self.armorer, command, self.handover_rule(gun, performer))
        witnesses = [performer, self.ad]
        if self.typo_due:
            self.typo_due = False
            self.inspect(gun, "pre_handover", witnesses, typo=performer)
        self.inspect(gun, "pre_handover", witnesses)

    def fire(self, gun: _Gun, rounds: int) -> tuple[int, int]:
        """Rounds fired in a take, and misfires (a misfired blank stays in its chamber)."""
        fired = self.rng.randint(1, min(rounds, 3))
        misfires = 0
        if fired < rounds and (self.misfire_due or self.rng.random() < self.p.misfire_rate):
            self.misfire_due = False
            misfires = 1
        for chamber in range(1, fired + 1):
            gun.rounds[chamber] = ("spent", gun.rounds[chamber][1])
        return fired, misfires

    # Incidents

    def incidents_before_take(
        self, day: int, n: int, take: int, scene: _Scene, pairs: list[tuple[_Gun, str]]
    ) -> None:
        middle = self.p.scenes_per_day // 2 + 1
        if day % 8 == 1 and n == 1 and take == min(1, scene.takes - 1):
            gun = pairs[0][0]
            index = self.emit(
                CREW[0],
                {
                    "type": "report_incident",
                    "kind": "near_miss",
                    "description": f"{gun.id} swept the camera operator during the walk-through",
                    "items": [gun.id],
                },
                entries=2,
            )
            self.minor_incidents.append(f"INC-{index + 1}")
        live_day = self.p.days * 3 // 5
        if (
            day == live_day
            and n == min(middle, self.p.scenes_per_day - 1)
            and take == min(1, scene.takes - 1)
        ):
            self.live_round(scene, pairs)

    def live_round(self, scene: _Scene, pairs: list[tuple[_Gun, str]]) -> None:
        """A live round on the props cart: everything stops until two people close it after a
        full inventory (SPEC §4.3, invariant 1)."""
        index = self.emit(
            CREW[1],
            {
                "type": "report_live_round",
                "where": {"location": CART},
                "description": "a .45 Colt round with a bright primer and no crimp, loose among "
                "the dummy boxes on the props cart",
            },
            entries=2,
        )
        incident = f"INC-{index + 1}"
        gun, performer = pairs[0]
        self.emit(
            self.armorer,
            {"type": "hand_over", "firearm": gun.id, "to": performer, "scene": scene.id},
            "PRODUCTION_FROZEN",
        )
        attempt: Command = {
            "type": "resolve_incident",
            "incident": incident,
            "resolution": "round removed from the cart; carry on",
            "approvals": [self.confirm(SAFETY)],
        }
        self.emit(SAFETY, attempt, "TWO_PERSON_RULE")
        both = [self.confirm(ARMORER), self.confirm(SAFETY)]
        self.emit(SAFETY, {**attempt, "approvals": both}, "INVENTORY_REQUIRED")
        for box in self.boxes.values():
            if box.count > 0:
                self.verify(box)
        for gun in self.guns.values():
            if gun.loadable and not gun.gone:
                self.inspect(gun, "daily", [SAFETY])
        self.emit(
            SAFETY,
            {
                "type": "resolve_incident",
                "incident": incident,
                "resolution": "every box verified round by round and every firearm inspected "
                "since the report; no other live round; the round is with the sheriff",
                "approvals": both,
            },
        )
        self.emit(
            SAFETY,
            {
                "type": "open_case",
                "case": f"CASE-{self.today}",
                "agency": "County Sheriff",
                "officer": "Det. R. Alvarez",
                "incident": incident,
            },
        )

    def return_to_supplier(self) -> None:
        """Two revolvers go back to the rental house before the wrap; the first is tried
        without its before_return inspection."""
        guns = [g for g in self.guns.values() if g.loadable and not g.gone][:2]
        for n, gun in enumerate(guns):
            self.check_out(gun)
            command = {"type": "return_to_supplier", "item": gun.id, "to": SUPPLIER}
            if n == 0:
                self.emit(self.armorer, command, "RETURN_INSPECTION_REQUIRED")
            self.inspect(gun, "before_return", [])
            self.emit(self.armorer, command)
            gun.held = False
            gun.gone = True

    def wrap(self, day: int, last: bool) -> None:
        held_blanks = [b for b in self.boxes.values() if b.held and b.kind == "blank"]
        if day % 11 == 0:
            self.dispose(held_blanks)
        if day % 4 == 2:
            self.combine(held_blanks)
        for gun in self.guns.values():
            if gun.held:
                self.store(gun)
        for box in self.boxes.values():
            if box.held:
                self.store(box)
        for incident in self.minor_incidents:
            self.resolve(incident, "reviewed with the armorer and safety at the wrap")
        self.minor_incidents.clear()
        counts = self.counts()
        if day == self.p.days // 4 and not last:
            # One dummy short at the wrap count: accepted as a finding, and a critical
            # incident until it is explained.
            box = next(b for b in self.boxes.values() if b.kind == "dummy" and b.count > 0)
            counts[box.id] -= 1
            index = self.emit(self.armorer, {"type": "close_day", "counts": counts}, entries=2)
            self.count_incident = f"INC-{index + 1}"
        else:
            self.emit(self.armorer, {"type": "close_day", "counts": counts})
        for box in self.boxes.values():
            box.verified = False  # a verification lasts until the day closes

    def dispose(self, held_blanks: list[_Box]) -> None:
        damaged = next((b for b in held_blanks if b.count >= 2), None)
        if damaged is None:
            return
        self.emit(
            self.armorer,
            {
                "type": "dispose",
                "box": damaged.id,
                "count": 2,
                "reason": "two blanks with split crimps, destroyed at the range",
            },
        )
        damaged.count -= 2

    def combine(self, held_blanks: list[_Box]) -> None:
        """Two part-used boxes of the same blanks become one."""
        for box in held_blanks:
            twin = next(
                (
                    b
                    for b in held_blanks
                    if b is not box
                    and (b.calibre, b.load) == (box.calibre, box.load)
                    and b.count > 0
                    and box.count > 0
                ),
                None,
            )
            if twin is None:
                continue
            source, target = sorted((box, twin), key=lambda b: b.count)
            self.emit(
                self.armorer,
                {"type": "move_rounds", "from": source.id, "to": target.id, "count": source.count},
            )
            target.count += source.count
            source.count = 0
            target.verified = False  # rounds moved in end a verification
            return


def simulate(production: Production) -> Iterator[Step]:
    """Every command of the production, in order (a generator: the full stream is big)."""
    shoot = _Shoot(production)
    for steps in shoot.shoot():
        yield from steps


# --- the stream as files for `armory do` ---


@dataclass
class Run:
    """Consecutive commands of one person: one file for `armory do BOOK --as actor FILE`."""

    actor: str
    path: Path
    expect: list[str | None] = field(default_factory=list)
    entries: int = 0
    pin_people: set[str] = field(default_factory=set)  # people whose PIN the run checks


@dataclass
class Tally:
    """What a stream holds: commands by type, intended refusals by rule, entries."""

    commands: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    entries: int = 1  # the book's creation

    def add(self, step: Step) -> None:
        self.commands[step.command["type"]] += 1
        if step.expect is not None:
            self.refusals[step.expect] += 1
        self.entries += step.entries

    @property
    def total(self) -> int:
        return sum(self.commands.values())


def pin_people(command: Command) -> set[str]:
    """Who confirms this command with a PIN (what the service checks against Argon2 hashes)."""
    found: set[str] = set()
    for key in ("witnesses", "approvals"):
        found.update(a["person"] for a in command.get(key, ()))
    if "approved_by" in command:
        found.add(command["approved_by"]["person"])
    if "override" in command:
        found.update(a["person"] for a in command["override"]["approvals"])
    return found


def write_runs(steps: Iterable[Step], directory: Path) -> tuple[list[Run], Tally]:
    """Write the stream as JSON-lines files, one per run of consecutive commands by the same
    person, numbered in order; the runs and what the stream holds."""
    directory.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    tally = Tally()
    handle = None
    try:
        for step in steps:
            if not runs or runs[-1].actor != step.actor:
                if handle is not None:
                    handle.close()
                run = Run(step.actor, directory / f"{len(runs) + 1:05d}-{step.actor}.jsonl")
                runs.append(run)
                handle = run.path.open("w", encoding="utf-8")
            assert handle is not None
            handle.write(json.dumps(step.command, separators=(",", ":")) + "\n")
            current = runs[-1]
            current.expect.append(step.expect)
            current.entries += step.entries
            current.pin_people |= pin_people(step.command)
            tally.add(step)
    finally:
        if handle is not None:
            handle.close()
    return runs, tally


def tally(steps: Iterable[Step]) -> Tally:
    counted = Tally()
    for step in steps:
        counted.add(step)
    return counted


if __name__ == "__main__":
    import sys

    chosen = QUICK_PRODUCTION if "--quick" in sys.argv else FULL_PRODUCTION
    summary = tally(simulate(chosen))
    print(f"{summary.total:,} commands, {summary.entries:,} entries")
    for name, count in summary.commands.most_common():
        print(f"  {name:22} {count:>9,}")
    for rule, count in summary.refusals.most_common():
        print(f"  refused {rule:26} {count:>6,}")
