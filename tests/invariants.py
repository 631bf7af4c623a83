"""The invariants of SPEC §4.3, checked on a book's entries and on the state shown for it.

`check_invariants(state, entries)` reads the entries once, in order. Beside the domain's own fold
(`armory.domain.evolve`) it keeps an account of its own, written from SPEC §4 and the entries
alone: who holds which roles, where every firearm and box is, which round sits in which chamber,
what each box holds, the day, the scenes and their meetings, and the incidents. Each violated
invariant raises AssertionError naming the invariant, the entry and what is wrong.

"In the same command" (an incident a count opens, an override a handover carries) is recognised
from the entries alone: see `_commands`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from armory.domain.evolve import Recorded, evolve
from armory.domain.projections import documents, same_state
from armory.domain.state import BookState
from armory.ledger.entry import Entry

ARMORERS = frozenset({"armorer", "assistant_armorer"})
LOADABLE = frozenset({"functional", "blank_firing"})
ROUND_KINDS = frozenset({"dummy", "blank"})
CRITICAL = frozenset({"live_round", "count_mismatch", "discharge", "injury", "missing_item"})
# Incidents that account for a round an inspection did not find where the ledger had it.
LOSSES = ("live_round", "missing_item", "count_mismatch")
# The custody steps that put an item into an armorer's hands.
INTO_HANDS = frozenset({"checked_out", "firearm_taken_back", "return_received"})


class InvariantViolation(AssertionError):
    """A SPEC §4.3 invariant (or a rule it rests on) that the book's entries break."""


@dataclass
class _Round:
    """A round the ledger placed in a chamber: the box it came from and what it is."""

    box: str
    kind: str


@dataclass
class _Gun:
    id: str
    chambers: int
    loadable: bool
    custody: tuple[str, str]
    came_to_hands: int  # the last custody step into an armorer's hands
    changed: int = -1  # the last load or unload
    fired: int = 0  # rounds reported fired whose cases no inspection has accounted for yet
    inspection: Entry | None = None
    inspections: list[int] = field(default_factory=list)
    rounds: list[_Round | None] = field(default_factory=list)


@dataclass
class _Box:
    id: str
    kind: str
    load: str | None
    calibre: str
    custody: tuple[str, str]
    count: int
    received: int
    loaded_out: int = 0
    unloaded_back: int = 0
    moved_out: int = 0
    moved_in: int = 0
    disposed: int = 0
    # Rounds that left this box for a chamber and came out of it again: back into a box (this
    # one or another of the same kind), spent, or lost with an incident opened for them.
    returned_from: int = 0
    spent_from: int = 0
    lost_from: int = 0
    verified: list[int] = field(default_factory=list)  # verifications that matched the count


@dataclass
class _Incident:
    id: str
    kind: str
    critical: bool
    opened: int
    resolved: int | None = None


@dataclass
class _Scene:
    firearms: tuple[str, ...]
    performers: tuple[str, ...]
    blanks: str | None
    meetings: list[tuple[str, frozenset[str]]] = field(default_factory=list)


@dataclass
class _Day:
    date: str
    open: bool = True
    paused: bool = False


@dataclass
class _Book:
    """What the entries say, as this module reads them."""

    kind: str = "production"
    roles: dict[str, frozenset[str]] = field(default_factory=dict)
    trainings: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)
    locked: dict[str, bool] = field(default_factory=dict)
    guns: dict[str, _Gun] = field(default_factory=dict)
    boxes: dict[str, _Box] = field(default_factory=dict)
    scenes: dict[str, _Scene] = field(default_factory=dict)
    incidents: dict[str, _Incident] = field(default_factory=dict)
    day: _Day | None = None
    refusals: dict[tuple[str, str], str] = field(default_factory=dict)  # (person, firearm): day

    def has(self, person: str, *roles: str) -> bool:
        return not self.roles.get(person, frozenset()).isdisjoint(roles)

    def trained(self, person: str, today: str) -> bool:
        return any(
            done <= today and (expires is None or today <= expires)
            for done, expires in self.trainings.get(person, [])
        )

    def frozen_by(self) -> _Incident | None:
        return next((i for i in self.incidents.values() if i.critical and i.resolved is None), None)

    def in_chambers(self, box: str) -> int:
        return sum(
            1 for gun in self.guns.values() for r in gun.rounds if r is not None and r.box == box
        )


def check_invariants(state: BookState, entries: list[Entry]) -> None:
    """Raise InvariantViolation for the first SPEC §4.3 invariant the book breaks."""
    _Checker(entries).run(state)


def _fail(invariant: int | str, message: str) -> InvariantViolation:
    return InvariantViolation(f"invariant {invariant}: {message}")


def _data(entry: Entry) -> Mapping[str, Any]:
    data: Mapping[str, Any] = entry.data
    return data


def _commands(entries: Sequence[Entry]) -> list[list[Entry]]:
    """The entries grouped by the command that appended them.

    A command's entries are consecutive and share their time and actor; they are its overrides,
    then its event (or its refusal), then the incidents it opens. Several commands appended in
    one transaction share time and actor too: a new one starts at every entry that is neither
    an incident opened nor the event an override was applied to."""
    groups: list[list[Entry]] = []
    for entry in entries:
        last = groups[-1][-1] if groups else None
        if (
            last is not None
            and (last.time, last.actor) == (entry.time, entry.actor)
            and (entry.type == "incident_opened" or last.type == "override_applied")
        ):
            groups[-1].append(entry)
        else:
            groups.append([entry])
    return groups


def _recorded(entry: Entry) -> Recorded:
    return Recorded(entry.index, entry.time, entry.actor, entry.type, entry.data)


class _Checker:
    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = list(entries)
        self.book = _Book()
        self.state = BookState()
        self.command: list[Entry] = []

    def run(self, shown: BookState) -> None:
        for position, entry in enumerate(self.entries):
            if entry.index != position:
                raise _fail(5, f"entry {position} of the ledger says it is entry {entry.index}")
        for command in _commands(self.entries):
            self.command = command
            for entry in command:
                try:
                    self.state = evolve(self.state, _recorded(entry))
                    self.entry(entry)
                except KeyError as problem:
                    raise _fail(
                        5,
                        f"entry {entry.index} ({entry.type}) names what the book does not "
                        f"hold, or lacks a field: {problem!r}",
                    ) from problem
        self.finish(shown)

    # One entry

    def entry(self, e: Entry) -> None:
        handler = getattr(self, f"on_{e.type}", None)
        if handler is not None:
            handler(e, _data(e))
        firearm = _data(e).get("firearm", _data(e).get("item"))
        if isinstance(firearm, str) and firearm in self.book.guns:
            self.same_chambers(e, self.book.guns[firearm])

    def same_chambers(self, e: Entry, gun: _Gun) -> None:
        """Every loaded round in exactly one chamber: after each step the state ties each
        chamber to the box its round came from exactly as the entries do."""
        shown = self.state.firearms.get(gun.id)
        if shown is None:
            raise _fail(5, f"entry {e.index}: the state has no firearm {gun.id}")
        mine = [r.box if r is not None else None for r in gun.rounds]
        theirs = [c.box if c.box in self.book.boxes else None for c in shown.contents]
        if mine != theirs:
            raise _fail(
                3,
                f"entry {e.index} ({e.type}): by the entries the chambers of {gun.id} hold "
                f"rounds from {mine}; the state says {theirs}",
            )

    def opened_in_command(self, kind: str, item: str | None = None) -> bool:
        """Whether this entry's command opened an incident of `kind` (naming `item`)."""
        for e in self.command:
            d = _data(e)
            if (
                e.type == "incident_opened"
                and d["kind"] == kind
                and (item is None or item in d.get("items", ()))
            ):
                return True
        return False

    # Set-up

    def on_book_created(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.book.kind = d["kind"]

    def on_person_enrolled(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.book.roles[d["person"]] = frozenset(d["roles"])

    def on_person_trained(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.book.trainings.setdefault(d["person"], []).append(
            (d["completed_on"], d.get("expires_on"))
        )

    def on_location_registered(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.book.locked[d["location"]] = bool(d["locked"])

    def on_firearm_received(self, e: Entry, d: Mapping[str, Any]) -> None:
        chambers = int(d["chambers"])
        self.book.guns[d["firearm"]] = _Gun(
            id=d["firearm"],
            chambers=chambers,
            loadable=d["kind"] in LOADABLE,
            custody=("location", d["location"]),
            came_to_hands=-1,
            rounds=[None] * chambers,
        )

    def on_box_received(self, e: Entry, d: Mapping[str, Any]) -> None:
        if self.book.kind == "production" and d["kind"] == "live":
            raise _fail(1, f"entry {e.index} receives box {d['box']} of live rounds")
        count = int(d["count"])
        self.book.boxes[d["box"]] = _Box(
            id=d["box"],
            kind=d["kind"],
            load=d.get("load"),
            calibre=d["calibre"],
            custody=("location", d["location"]),
            count=count,
            received=count,
        )
        self.not_negative(e, d["box"])

    # Custody

    def move(self, e: Entry, item: str, custody: tuple[str, str]) -> None:
        gun = self.book.guns.get(item)
        if gun is not None:
            gun.custody = custody
            if e.type in INTO_HANDS:
                gun.came_to_hands = e.index
        elif item in self.book.boxes:
            self.book.boxes[item].custody = custody

    def on_checked_out(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.move(e, d["item"], ("armorer", e.actor))

    def on_stored(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.move(e, d["item"], ("location", d["location"]))

    def on_returned_to_supplier(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.move(e, d["item"], ("gone", d["to"]))

    on_issued = on_returned_to_supplier

    def on_return_received(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.move(e, d["item"], ("armorer", e.actor))
        gun = self.book.guns.get(d["item"])
        if gun is not None:
            gun.rounds = [
                _Round(c["box"], c["content"])
                if c.get("box") in self.book.boxes and c["content"] in ROUND_KINDS
                else None
                for c in sorted(d["inspection"]["chambers"], key=lambda c: c["n"])
            ]
            gun.inspection = None

    def on_firearm_taken_back(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.move(e, d["firearm"], ("armorer", e.actor))
        self.book.guns[d["firearm"]].fired += int(d["rounds_fired"])

    # The day

    def on_day_opened(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.book.day = _Day(d["date"])
        self.counted(e, d["counts"], "the opening count")

    def on_day_paused(self, e: Entry, d: Mapping[str, Any]) -> None:
        if self.book.day is not None:
            self.book.day.paused = True
        self.all_locked_away(e, "pause")

    def on_day_resumed(self, e: Entry, d: Mapping[str, Any]) -> None:
        if self.book.day is not None:
            self.book.day.paused = False

    def on_day_closed(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.all_locked_away(e, "close of day")
        self.counted(e, d["counts"], "the close count")
        if self.book.day is not None:
            self.book.day.open = False
            self.book.day.paused = False

    def all_locked_away(self, e: Entry, moment: str) -> None:
        """Invariant 4: at a pause and at the close every firearm and box is locked away."""
        state = self.state
        items: list[Any] = [*state.firearms.values(), *state.boxes.values()]
        out = sorted(item.id for item in items if not state.is_in_locked_storage(item.custody))
        if out:
            raise _fail(
                4, f"entry {e.index} ({moment}) leaves {', '.join(out)} out of locked storage"
            )
        places = [
            *((gun.id, gun.custody) for gun in self.book.guns.values()),
            *((box.id, box.custody) for box in self.book.boxes.values()),
        ]
        mine = [
            item
            for item, (kind, holder) in places
            if not (kind == "gone" or (kind == "location" and self.book.locked.get(holder)))
        ]
        if mine:
            raise _fail(
                4, f"entry {e.index} ({moment}): by the entries, {', '.join(sorted(mine))} is out"
            )

    def counted(self, e: Entry, counts: Mapping[str, int], what: str) -> None:
        """A count that differs from the ledger opens a COUNT_MISMATCH incident in the same
        command (invariant 4 for the close; SPEC §4.1 findings for the others)."""
        for box_id, found in counts.items():
            box = self.book.boxes.get(box_id)
            if box is None or box.count == found:
                continue
            if not self.opened_in_command("count_mismatch", box_id):
                raise _fail(
                    4,
                    f"entry {e.index}: {what} of box {box_id} is {found}, the ledger says "
                    f"{box.count}, and no incident was opened",
                )

    # Scenes

    def on_scene_planned(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.book.scenes[d["scene"]] = _Scene(
            tuple(d["firearms"]), tuple(d["performers"]), d.get("blanks")
        )

    def on_safety_meeting_held(self, e: Entry, d: Mapping[str, Any]) -> None:
        scene = self.book.scenes.get(d["scene"])
        if scene is not None:
            scene.meetings.append((d["held_on"], frozenset(d["attendees"])))

    # Rounds

    def not_negative(self, e: Entry, box_id: str) -> None:
        box = self.book.boxes[box_id]
        if box.count < 0:
            raise _fail(3, f"entry {e.index} leaves box {box_id} with {box.count} rounds")

    def frozen(self, e: Entry, what: str) -> None:
        """An open critical incident stops loading, handing over, disposing and unloading
        (SPEC §4.1 PRODUCTION_FROZEN): the incident stands until two people resolve it."""
        incident = self.book.frozen_by()
        if incident is not None:
            raise _fail(
                1,
                f"entry {e.index} {what} while critical incident {incident.id} "
                f"({incident.kind}, entry {incident.opened}) is open",
            )

    def on_box_verified(self, e: Entry, d: Mapping[str, Any]) -> None:
        box = self.book.boxes[d["box"]]
        if d["count"] == box.count and d["every_round"]:
            box.verified.append(e.index)
        self.counted(e, {d["box"]: d["count"]}, "the verification count")

    def on_firearm_loaded(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.frozen(e, f"loads {d['firearm']}")
        gun = self.book.guns[d["firearm"]]
        for round_in in d["rounds"]:
            n, box = int(round_in["chamber"]), self.book.boxes[round_in["box"]]
            if gun.rounds[n - 1] is not None:
                raise _fail(
                    3,
                    f"entry {e.index} loads chamber {n} of {gun.id}, which already holds a round "
                    f"from box {gun.rounds[n - 1].box}",  # type: ignore[union-attr]
                )
            gun.rounds[n - 1] = _Round(box.id, box.kind)
            box.count -= 1
            box.loaded_out += 1
            self.not_negative(e, box.id)
        gun.changed = e.index

    def on_firearm_unloaded(self, e: Entry, d: Mapping[str, Any]) -> None:
        if d.get("evidence_case") is None:
            self.frozen(e, f"unloads {d['firearm']} (not as evidence)")
        gun = self.book.guns[d["firearm"]]
        for round_out in d["rounds"]:
            n, to = int(round_out["chamber"]), round_out["to"]
            held = gun.rounds[n - 1]
            if held is None:
                raise _fail(
                    3, f"entry {e.index} unloads chamber {n} of {gun.id}, where no round was loaded"
                )
            source = self.book.boxes[held.box]
            if to == "spent":
                source.spent_from += 1
            else:
                target = self.book.boxes[to]
                if (held.kind, source.load, source.calibre) != (
                    target.kind,
                    target.load,
                    target.calibre,
                ):
                    raise _fail(
                        3,
                        f"entry {e.index} puts a {held.kind} round (from box {source.id}, "
                        f"{source.load or 'no'} load, {source.calibre}) from chamber {n} of "
                        f"{gun.id} into box {to} of {target.kind} ({target.load or 'no'} load, "
                        f"{target.calibre}): a box holds rounds of one kind",
                    )
                source.returned_from += 1
                target.count += 1
                target.unloaded_back += 1
            gun.rounds[n - 1] = None
        gun.changed = e.index

    def on_firearm_inspected(self, e: Entry, d: Mapping[str, Any]) -> None:
        """What an inspection finds where the ledger has a round. Found as a round (dummy, blank
        or a spent case), it stays tied to its box as what was found; found unknown, it stays on
        the books. A chamber found empty is a fired blank whose case was ejected or a case taken
        out, or a round lost with an incident opened for it: the round may then leave the books
        (or stay, if the state keeps it). Otherwise a round never silently leaves them."""
        gun = self.book.guns[d["firearm"]]
        shown = self.state.firearms[gun.id].contents
        found = {int(c["n"]): c["content"] for c in d["chambers"]}
        for n, held in enumerate(gun.rounds, start=1):
            if held is None:
                continue
            content = found.get(n, "unknown")
            box = self.book.boxes[held.box]
            kept = n <= len(shown) and shown[n - 1].box == held.box
            if content in ("dummy", "blank", "spent"):
                if content == "spent" and held.kind != "spent":
                    gun.fired = max(gun.fired - 1, 0)
                held.kind = content
                continue
            if kept:
                continue  # the ledger keeps the round where it was (unknown: nobody knows)
            if content == "empty" and (
                held.kind == "spent" or (held.kind == "blank" and gun.fired > 0)
            ):
                if held.kind == "blank":
                    gun.fired -= 1
                box.spent_from += 1
            elif any(self.opened_in_command(kind) for kind in LOSSES):
                box.lost_from += 1
            else:
                raise _fail(
                    3,
                    f"entry {e.index} inspects {gun.id}: chamber {n} holds a {held.kind} round "
                    f"from box {box.id} by the ledger and was found {content}; the round left "
                    "the books without an unload, a spent case or an incident",
                )
            gun.rounds[n - 1] = None
        gun.inspection = e
        gun.inspections.append(e.index)

    def on_rounds_moved(self, e: Entry, d: Mapping[str, Any]) -> None:
        source, target = self.book.boxes[d["from"]], self.book.boxes[d["to"]]
        if (source.kind, source.load, source.calibre) != (target.kind, target.load, target.calibre):
            raise _fail(
                3,
                f"entry {e.index} moves rounds of box {source.id} into box {target.id} of "
                "another kind, load or calibre",
            )
        count = int(d["count"])
        source.count -= count
        source.moved_out += count
        target.count += count
        target.moved_in += count
        self.not_negative(e, source.id)

    def on_rounds_disposed(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.frozen(e, f"disposes of rounds of box {d['box']}")
        box = self.book.boxes[d["box"]]
        box.count -= int(d["count"])
        box.disposed += int(d["count"])
        self.not_negative(e, box.id)

    # Handing over (invariant 2)

    def on_refusal_recorded(self, e: Entry, d: Mapping[str, Any]) -> None:
        day = self.book.day
        today = day.date if day is not None and day.open else e.time[:10]
        self.book.refusals[(e.actor, d["firearm"])] = today

    def on_firearm_handed_over(self, e: Entry, d: Mapping[str, Any]) -> None:
        self.frozen(e, f"hands {d['firearm']} over")
        gun, to, scene_id = self.book.guns[d["firearm"]], d["to"], d["scene"]
        where = f"entry {e.index} hands {gun.id} to {to} for scene {scene_id}"
        armorers = {*ARMORERS, "supplier_agent"} if self.book.kind == "supplier" else ARMORERS
        if not self.book.has(e.actor, *armorers):
            raise _fail(2, f"{where}, but {e.actor} is not an armorer")
        if gun.custody != ("armorer", e.actor):
            raise _fail(2, f"{where} from {gun.custody}, not from {e.actor}'s hands")
        day = self.book.day
        if day is None or not day.open or day.paused:
            raise _fail(2, f"{where} outside an open working day")
        self.may_receive(to, gun.id, day.date, where)
        scene = self.book.scenes.get(scene_id)
        if scene is None:
            raise _fail(2, f"{where}, a scene never planned")
        if not any(held_on == day.date and to in people for held_on, people in scene.meetings):
            raise _fail(2, f"{where}; {to} attended no safety meeting for it on {day.date}")
        if (gun.id not in scene.firearms or to not in scene.performers) and not self.overridden(
            "SCENE_NOT_PLANNED"
        ):
            raise _fail(2, f"{where}; the scene is not planned with both, and nothing overrode it")
        for n, held in enumerate(gun.rounds, start=1):
            if held is not None and held.kind == "blank":
                load = self.book.boxes[held.box].load
                if load != scene.blanks:
                    raise _fail(
                        2, f"{where} with {load} blanks in chamber {n}; planned: {scene.blanks}"
                    )
        if gun.loadable:
            self.inspected_for(e, gun, to, where)

    def may_receive(self, to: str, firearm: str, today: str, where: str) -> None:
        """A performer, with current training, who has not refused that firearm today."""
        if not self.book.has(to, "performer"):
            raise _fail(2, f"{where}, who is not enrolled as a performer")
        if self.book.refusals.get((to, firearm)) == today:
            raise _fail(2, f"{where}, who refused to handle it on {today}")
        if not self.book.trained(to, today):
            raise _fail(2, f"{where}, who has no current training on {today}")

    def inspected_for(self, e: Entry, gun: _Gun, to: str, where: str) -> None:
        """The inspection before a handover: since the firearm last came into the armorer's
        hands and since its chambers last changed, pre_handover, every chamber listed and
        none unknown or live, witnessed by the performer and a first AD."""
        inspection = gun.inspection
        if inspection is None:
            raise _fail(2, f"{where} without any inspection")
        data = _data(inspection)
        if inspection.index < gun.came_to_hands:
            raise _fail(
                2,
                f"{where}: its last inspection (entry {inspection.index}) is older than the "
                f"step that put it back in the armorer's hands (entry {gun.came_to_hands})",
            )
        if inspection.index < gun.changed:
            raise _fail(
                2,
                f"{where}: its last inspection (entry {inspection.index}) is older than the last "
                f"change to its chambers (entry {gun.changed})",
            )
        if data["purpose"] != "pre_handover":
            raise _fail(2, f"{where} after a {data['purpose']} inspection, not pre_handover")
        numbers = sorted(int(c["n"]) for c in data["chambers"])
        if numbers != list(range(1, gun.chambers + 1)):
            raise _fail(2, f"{where}: inspection {inspection.index} lists chambers {numbers}")
        doubtful = [c["n"] for c in data["chambers"] if c["content"] in ("unknown", "live")]
        if doubtful:
            raise _fail(
                2, f"{where}: inspection {inspection.index} left chamber {doubtful} unknown or live"
            )
        witnesses = list(data.get("witnesses", ()))
        if to not in witnesses:
            raise _fail(2, f"{where}: {to} did not witness inspection {inspection.index}")
        if not any(self.book.has(w, "first_ad") for w in witnesses):
            raise _fail(2, f"{where}: no first AD witnessed inspection {inspection.index}")

    def overridden(self, rule: str) -> bool:
        """An override of `rule` in this command, approved by an armorer and a safety person."""
        for e in self.command:
            d = _data(e)
            if e.type == "override_applied" and d["rule"] == rule:
                return self.two_people(list(d["approvers"]))
        return False

    def two_people(self, approvers: Sequence[str]) -> bool:
        """Two distinct people: one an armorer, the other a safety supervisor."""
        if len(approvers) != 2 or approvers[0] == approvers[1]:
            return False
        first, second = approvers
        return (self.book.has(first, "armorer") and self.book.has(second, "safety")) or (
            self.book.has(second, "armorer") and self.book.has(first, "safety")
        )

    # Incidents (invariant 1)

    def on_incident_opened(self, e: Entry, d: Mapping[str, Any]) -> None:
        kind = d["kind"]
        self.book.incidents[d["incident"]] = _Incident(
            d["incident"], kind, kind in CRITICAL, e.index
        )

    def on_incident_resolved(self, e: Entry, d: Mapping[str, Any]) -> None:
        incident = self.book.incidents[d["incident"]]
        where = f"entry {e.index} resolves incident {incident.id} ({incident.kind})"
        if incident.resolved is not None:
            raise _fail(1, f"{where} again (resolved at entry {incident.resolved})")
        if not self.two_people(list(d["approvers"])):
            raise _fail(
                1, f"{where} with approvers {d['approvers']}: not an armorer and a safety person"
            )
        if incident.kind == "live_round":
            self.inventoried(incident, e.index, where)
        incident.resolved = e.index

    def inventoried(self, incident: _Incident, now: int, where: str) -> None:
        """Every box holding rounds verified, every firearm inspected, since the report."""
        since = incident.opened
        boxes = [
            box.id
            for box in self.book.boxes.values()
            if box.custody[0] != "gone"
            and box.count > 0
            and not any(since < index < now for index in box.verified)
        ]
        guns = [
            gun.id
            for gun in self.book.guns.values()
            if gun.custody[0] != "gone"
            and gun.loadable
            and not any(since < index < now for index in gun.inspections)
        ]
        if boxes or guns:
            raise _fail(
                1,
                f"{where} without a full inventory since entry {since}: not verified "
                f"{sorted(boxes)}, not inspected {sorted(guns)}",
            )

    # The end: the state shown (invariants 3 and 5)

    def finish(self, shown: BookState) -> None:
        folded = self.state
        if folded.size != len(self.entries) or shown.size != len(self.entries):
            raise _fail(
                5,
                f"the ledger holds {len(self.entries)} entries; the state shown is at size "
                f"{shown.size}, the fold at {folded.size}",
            )
        if not same_state(folded, shown):
            raise _fail(
                5, f"the state shown differs from the fold of the entries: {_diff(folded, shown)}"
            )
        self.kinds_and_counts(folded)

    def kinds_and_counts(self, folded: BookState) -> None:
        if folded.kind == "production":
            live = sorted(b.id for b in folded.boxes.values() if b.kind == "live")
            if live:
                raise _fail(1, f"the production holds boxes of live rounds: {live}")
        for box in self.book.boxes.values():
            counted = (
                box.received
                - box.loaded_out
                + box.unloaded_back
                - box.moved_out
                + box.moved_in
                - box.disposed
            )
            if counted != box.count:
                raise _fail(3, f"box {box.id}: the entries add up to {counted}, not {box.count}")
            shown = folded.boxes.get(box.id)
            mine = (
                box.count,
                box.received,
                box.loaded_out,
                box.unloaded_back,
                box.moved_out,
                box.moved_in,
                box.disposed,
            )
            theirs = (
                None
                if shown is None
                else (
                    shown.count,
                    shown.received,
                    shown.loaded_out,
                    shown.unloaded_back,
                    shown.moved_out,
                    shown.moved_in,
                    shown.disposed,
                )
            )
            if mine != theirs:
                raise _fail(
                    3,
                    f"box {box.id} (count, received, loaded, unloaded back, moved out, moved in, "
                    f"disposed): the entries say {mine}, the state {theirs}",
                )
            out = box.loaded_out - box.returned_from - box.spent_from - box.lost_from
            inside = self.book.in_chambers(box.id)
            if out != inside:
                raise _fail(
                    3,
                    f"box {box.id}: {box.loaded_out} rounds loaded, {box.returned_from} back in a "
                    f"box, {box.spent_from} spent, {box.lost_from} lost with an incident; that "
                    f"leaves {out} in chambers, but chambers hold {inside}",
                )


def _diff(left: BookState, right: BookState) -> str:
    """The first documents that differ between two states, for the message."""
    a, b = documents(left), documents(right)
    keys = sorted({*a, *b})
    differing = [key for key in keys if a.get(key) != b.get(key)]
    return "; ".join(f"{key}: {a.get(key)!r} != {b.get(key)!r}" for key in differing[:3])
