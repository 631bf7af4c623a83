"""decide(state, command, ctx) -> events, or Refused(rule): the rules of SPEC §4, at the moment
each step is attempted.

Every command lists the checks that apply to it, each a small function that reads like the
sentence in SPEC §4.1 and answers with a message when it refuses. The checks run in the order of
the rule table, so the refusal names the first rule that applies; an overridable rule passes with
a valid two-person override, which is recorded with the command's events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from armory.domain import commands as c
from armory.domain.evolve import Recorded
from armory.domain.rules import Rule
from armory.domain.schema import to_json
from armory.domain.state import ARMORER_ROLES, BookState, Box, Firearm
from armory.errors import InvalidInput

CRITICAL_KINDS = frozenset({"live_round", "count_mismatch", "discharge", "injury", "missing_item"})
MIN_BLANK_DISTANCE_FT = 20
SPENT = "spent"
# What an entry's data names as its subject, in order of preference: what a correction corrects.
SUBJECT_KEYS = ("firearm", "box", "item", "person", "location", "scene", "case", "incident")


@dataclass(frozen=True)
class Context:
    """What decide needs from outside the book: who acts, when, and what was checked."""

    book: str
    actor: str
    time: str
    next_index: int  # the index the first event will take: server-assigned ids derive from it
    is_admin: bool = False
    pin_failures: frozenset[str] = frozenset()  # people whose PIN was wrong or is locked
    references: Mapping[tuple[str, int], Recorded] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    type: str
    data: Mapping[str, Any]


class Refused(Exception):
    """The command is refused by `rule`; `events` are recorded with the refusal (an incident a
    refused command still opens)."""

    def __init__(self, rule: Rule, message: str, events: Sequence[Event] = ()) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.events = tuple(events)


Check = tuple[Rule, Callable[[], str | None]]


def decide(state: BookState, envelope: c.Envelope, ctx: Context) -> list[Event]:
    """The events of an accepted command; raises Refused (or InvalidInput for a command that
    contradicts the book's state in a way no rule covers)."""
    handler = HANDLERS[type(envelope.command)]
    return handler(Decision(state, envelope, ctx))


# The state's table of each kind of thing `Decision.known` looks up.
_TABLES = {
    "firearm": "firearms",
    "box": "boxes",
    "person": "people",
    "location": "locations",
    "scene": "scenes",
    "incident": "incidents",
    "case": "cases",
}


class Decision:
    """One command being decided: its checks, and the events it will record."""

    def __init__(self, state: BookState, envelope: c.Envelope, ctx: Context) -> None:
        self.state = state
        self.envelope = envelope
        self.command: Any = envelope.command
        self.ctx = ctx
        self.events: list[Event] = []

    # Running checks

    def require(self, checks: Iterable[Check]) -> None:
        """Run checks in the rule table's order; refuse at the first that fails and cannot be
        overridden."""
        for rule, check in sorted(checks, key=lambda pair: pair[0].precedence):
            problem = check()
            if problem is None:
                continue
            if rule.overridable and self.envelope.override is not None:
                self._apply_override(rule, problem)
                continue
            raise Refused(rule, problem)

    def _apply_override(self, rule: Rule, problem: str) -> None:
        override = self.envelope.override
        assert override is not None
        approvers = [approval.person for approval in override.approvals]
        if not _armorer_and_safety(self.state, approvers):
            raise Refused(
                Rule.TWO_PERSON_RULE,
                f"{problem}; an override needs two different approvers: an armorer and a "
                "safety supervisor",
            )
        self.events.append(
            Event(
                "override_applied",
                {
                    "rule": rule.value,
                    "reason": override.reason,
                    "approvers": approvers,
                    "problem": problem,
                },
            )
        )

    def emit(self, kind: str, data: Mapping[str, Any]) -> None:
        self.events.append(Event(kind, data))

    def open_incident(
        self,
        kind: str,
        description: str,
        items: Sequence[str],
        rule: Rule | None = None,
        after_refusal: bool = False,
    ) -> Event:
        """An incident_opened event; its id derives from the index it will be recorded at
        (after the command_refused entry, when a refused command opens it)."""
        position = self.ctx.next_index + len(self.events) + (1 if after_refusal else 0)
        event = Event(
            "incident_opened",
            {
                "incident": f"INC-{position}",
                "kind": kind,
                "critical": kind in CRITICAL_KINDS,
                "rule": rule.value if rule else None,
                "items": list(items),
                "description": description,
            },
        )
        self.events.append(event)
        return event

    def data(self) -> dict[str, Any]:
        """The command's fields as recorded: PINs dropped, people kept."""
        recorded: dict[str, Any] = without_pins(to_json(self.command))
        return recorded

    # Common checks

    def permitted(self, *roles: str, reserved: bool = False, handles_items: bool = True) -> Check:
        """NOT_PERMITTED (and ARMORER_ONLY for steps reserved to armorers)."""

        def check() -> str | None:
            actor = self.ctx.actor
            mine = self.state.roles_of(actor)
            if self.ctx.is_admin and handles_items:
                return "an admin cannot write firearm or ammunition events"
            if not mine:
                if self.ctx.is_admin and "admin" in roles:
                    return None
                return f"{actor} is not enrolled in this book"
            if mine <= {"investigator"}:
                return "an investigator reads and exports, and writes nothing"
            if mine.isdisjoint(roles) and not reserved:
                return f"{actor} holds no role that may do this ({', '.join(sorted(roles))})"
            return None

        return Rule.NOT_PERMITTED, check

    def armorer_only(self) -> Check:
        roles = ARMORER_ROLES | ({"supplier_agent"} if self.state.kind == "supplier" else set())

        def check() -> str | None:
            if self.state.roles_of(self.ctx.actor).isdisjoint(roles):
                return f"{self.ctx.actor} is not the armorer: only an armorer may do this"
            return None

        return Rule.ARMORER_ONLY, check

    def armorer_step(self) -> list[Check]:
        """The checks of a step reserved to the armorer (in a supplier book: its agents)."""
        roles = (
            {*ARMORER_ROLES, "supplier_agent"} if self.state.kind == "supplier" else ARMORER_ROLES
        )
        return [self.permitted(*roles, reserved=True), self.armorer_only()]

    def known(self, kind: str, *ids: str | None) -> Check:
        """UNKNOWN_ITEM when a firearm, box, person, location, scene, incident or case is
        not in this book."""
        state = self.state
        # An item is a firearm or a box (`item_kind`); the rest are looked up in their table.
        present: Callable[[str], bool] = (
            (lambda item: state.item_kind(item) is not None)
            if kind == "item"
            else getattr(state, _TABLES[kind]).__contains__
        )

        def check() -> str | None:
            for item in ids:
                if item is not None and not present(item):
                    return f"there is no {kind} {item!r} in this book"
            return None

        return Rule.UNKNOWN_ITEM, check

    def pins(self, people: Iterable[str]) -> Check:
        wanted = list(people)

        def check() -> str | None:
            for person in wanted:
                if person in self.ctx.pin_failures:
                    return f"the PIN of {person} is wrong or locked"
            return None

        return Rule.PIN_INVALID, check

    def not_frozen(self, unless: bool = False) -> Check:
        def check() -> str | None:
            incident = self.state.frozen_by
            if incident is None or unless:
                return None
            return f"the production is frozen by incident {incident.id} ({incident.kind})"

        return Rule.PRODUCTION_FROZEN, check

    def day_working(self) -> Check:
        def check() -> str | None:
            day = self.state.day
            if day is None or not day.open:
                return "no day is open"
            if day.paused:
                return f"the day {day.date} is paused"
            return None

        return Rule.DAY_NOT_OPEN, check

    def locked(self, location: str) -> Check:
        def check() -> str | None:
            found = self.state.locations.get(location)
            if found is not None and not found.locked:
                return f"location {location} ({found.name}) is not locked"
            return None

        return Rule.LOCATION_NOT_LOCKED, check

    def not_held(self, item: str, *, unless: bool = False) -> Check:
        def check() -> str | None:
            thing = self.state.firearms.get(item) or self.state.boxes.get(item)
            if thing is None or not thing.evidence or unless:
                return None
            return f"{item} is held as evidence under case {', '.join(sorted(thing.evidence))}"

        return Rule.EVIDENCE_HOLD, check

    def held_by_me(self, item: str) -> Check:
        def check() -> str | None:
            thing = self.state.firearms.get(item) or self.state.boxes.get(item)
            if thing is None:
                return None
            custody = thing.custody
            if custody.kind == "armorer" and custody.holder == self.ctx.actor:
                return None
            return f"{item} is not in your hands: it is {_where(custody.kind, custody.holder)}"

        return Rule.NOT_IN_CUSTODY, check

    def new_id(self, kind: str, item: str, table: Mapping[str, Any]) -> None:
        if item in table:
            raise InvalidInput(f"{kind} {item!r} already exists in this book: ids are unique")


def _armorer_and_safety(state: BookState, approvers: Sequence[str]) -> bool:
    """Two different people, one an armorer and the other a safety supervisor (SPEC §4.2)."""
    roles = [state.roles_of(person) for person in approvers]
    return any(
        i != j and "armorer" in roles[i] and "safety" in roles[j] and approvers[i] != approvers[j]
        for i in range(len(approvers))
        for j in range(len(approvers))
    )


def _where(kind: str, holder: str) -> str:
    return {
        "location": f"stored in {holder}",
        "armorer": f"held by {holder}",
        "performer": f"with performer {holder}",
        "gone": f"gone to {holder}",
    }.get(kind, kind)


def without_pins(value: Any) -> Any:
    """A command's JSON with every PIN dropped; a `{person, pin}` confirmation becomes the
    person (what the ledger records, and what a refusal says the command named)."""
    if isinstance(value, dict):
        if set(value) == {"person", "pin"}:
            return value["person"]
        return {k: without_pins(v) for k, v in value.items() if k != "pin"}
    if isinstance(value, list):
        return [without_pins(item) for item in value]
    return value


Handler = Callable[[Decision], list[Event]]
HANDLERS: dict[type[Any], Handler] = {}


def handles(command: type[Any]) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[command] = handler
        return handler

    return register


def _accept(d: Decision, kind: str, data: Mapping[str, Any] | None = None) -> list[Event]:
    d.emit(kind, d.data() if data is None else data)
    return d.events


# --- set-up ---


@handles(c.EnrollPerson)
def _enroll_person(d: Decision) -> list[Event]:
    cmd: c.EnrollPerson = d.command
    # SPEC §2: an assistant armorer may do what the armorer does but resolve and approve.
    d.require([d.permitted("admin", "armorer", "assistant_armorer", handles_items=False)])
    if "admin" in cmd.roles:
        raise InvalidInput("admin is a server account flag, not a role granted in a book")
    return _accept(d, "person_enrolled")


@handles(c.RecordTraining)
def _record_training(d: Decision) -> list[Event]:
    cmd: c.RecordTraining = d.command
    d.require(
        [d.permitted("armorer", "assistant_armorer", "safety"), d.known("person", cmd.person)]
    )
    if cmd.expires_on is not None and cmd.expires_on < cmd.completed_on:
        raise InvalidInput("expires_on is before completed_on")
    return _accept(d, "person_trained")


@handles(c.RegisterLocation)
def _register_location(d: Decision) -> list[Event]:
    cmd: c.RegisterLocation = d.command
    d.require([*d.armorer_step(), d.known("person", *cmd.keyholders)])
    d.new_id("location", cmd.location, d.state.locations)
    return _accept(d, "location_registered")


# --- receiving and returning ---


def _check_source(d: Decision, source: c.LedgerRef | c.Source, kind: str, serial: str) -> Check:
    """A `{book, index}` source must be the other book's issue of this very item to us."""

    def check() -> str | None:
        if isinstance(source, c.Source):
            return None
        entry = d.ctx.references.get((source.book, source.index))
        if entry is None:
            return f"book {source.book} has no entry {source.index}"
        if entry.type != "issued" or entry.data.get("to") != d.ctx.book:
            return f"entry {source.index} of {source.book} is not an issue to {d.ctx.book}"
        if entry.data.get("item_kind") != kind or entry.data.get("serial", serial) != serial:
            return f"entry {source.index} of {source.book} issued another item"
        return None

    return Rule.UNKNOWN_ITEM, check


@handles(c.ReceiveFirearm)
def _receive_firearm(d: Decision) -> list[Event]:
    cmd: c.ReceiveFirearm = d.command
    d.require(
        [
            *d.armorer_step(),
            d.known("location", cmd.location),
            _check_source(d, cmd.from_, "firearm", cmd.serial),
            d.locked(cmd.location),
        ]
    )
    d.new_id("firearm", cmd.firearm, {**d.state.firearms, **d.state.boxes})
    if not 1 <= cmd.chambers <= 100:
        raise InvalidInput("chambers must be between 1 and 100")
    data = d.data()
    if isinstance(cmd.from_, c.LedgerRef):
        issue = d.ctx.references[(cmd.from_.book, cmd.from_.index)]
        data["flags"] = list(issue.data.get("flags", ()))
    return _accept(d, "firearm_received", data)


@handles(c.ReceiveBox)
def _receive_box(d: Decision) -> list[Event]:
    cmd: c.ReceiveBox = d.command

    def not_live() -> str | None:
        return "live ammunition is never brought into a production" if cmd.kind == "live" else None

    checks = [
        *d.armorer_step(),
        d.known("location", cmd.location),
        _check_source(d, cmd.from_, "box", ""),
        d.locked(cmd.location),
    ]
    if d.state.kind == "production":
        checks.append((Rule.LIVE_AMMUNITION_PROHIBITED, not_live))
    try:
        d.require(checks)
    except Refused as refused:
        if refused.rule is Rule.LIVE_AMMUNITION_PROHIBITED:
            # Refused, and still a live round on set: a critical incident (SPEC §4.1 findings).
            incident = d.open_incident(
                "live_round",
                f"live rounds offered for intake as box {cmd.box}",
                [cmd.box],
                Rule.LIVE_AMMUNITION_PROHIBITED,
                after_refusal=True,
            )
            raise Refused(refused.rule, refused.message, [incident]) from None
        raise
    d.new_id("box", cmd.box, {**d.state.firearms, **d.state.boxes})
    if cmd.count < 0:
        raise InvalidInput("count cannot be negative")
    if cmd.kind == "blank" and cmd.load is None:
        raise InvalidInput("a box of blanks needs its load: quarter, half, full or specialty")
    return _accept(d, "box_received")


@handles(c.ReturnToSupplier)
def _return_to_supplier(d: Decision) -> list[Event]:
    cmd: c.ReturnToSupplier = d.command

    def return_inspected() -> str | None:
        firearm = d.state.firearms.get(cmd.item)
        if firearm is None or not firearm.is_loadable:
            return None
        inspection = firearm.current_inspection
        if inspection is None or inspection.purpose != "before_return" or not inspection.all_empty:
            return f"{cmd.item} has no clear before_return inspection since it was last handled"
        return None

    def in_my_custody() -> str | None:
        item = d.state.firearms.get(cmd.item) or d.state.boxes.get(cmd.item)
        if (
            item is None
            or d.state.is_in_locked_storage(item.custody)
            or (item.custody.kind == "armorer")
        ):
            return None if item is None or item.custody.kind != "gone" else f"{cmd.item} is gone"
        return f"{cmd.item} is {_where(item.custody.kind, item.custody.holder)}"

    d.require(
        [
            *d.armorer_step(),
            d.known("item", cmd.item),
            (Rule.RETURN_INSPECTION_REQUIRED, return_inspected),
            (Rule.NOT_IN_CUSTODY, in_my_custody),
            d.not_held(cmd.item),
        ]
    )
    item_kind = d.state.item_kind(cmd.item)
    return _accept(d, "returned_to_supplier", {**d.data(), "item_kind": item_kind})


def _supplier_only(d: Decision) -> None:
    if d.state.kind != "supplier":
        raise InvalidInput("only a supplier book issues and receives returns")


def _inspection_data(inspection: c.SupplierInspection) -> dict[str, Any]:
    return {
        "chambers": [to_json(ch) for ch in inspection.chambers],
        "bore_clear": inspection.bore_clear,
    }


@handles(c.Issue)
def _issue(d: Decision) -> list[Event]:
    cmd: c.Issue = d.command
    _supplier_only(d)
    d.require([*d.armorer_step(), d.known("item", cmd.item), d.not_held(cmd.item)])
    firearm = d.state.firearms.get(cmd.item)
    if firearm is not None:
        _check_chambers(firearm, cmd.inspection.chambers)
    item = firearm or d.state.boxes[cmd.item]
    if item.custody.kind == "gone":
        raise InvalidInput(f"{cmd.item} is not in stock: it is gone to {item.custody.holder}")
    data: dict[str, Any] = {
        "item": cmd.item,
        "to": cmd.to,
        "inspection": _inspection_data(cmd.inspection),
        "item_kind": "firearm" if firearm else "box",
    }
    if firearm is not None:
        data.update(serial=firearm.serial, flags=list(firearm.flags))
    return _accept(d, "issued", data)


@handles(c.ReceiveReturn)
def _receive_return(d: Decision) -> list[Event]:
    cmd: c.ReceiveReturn = d.command
    _supplier_only(d)

    def returned_to_us() -> str | None:
        entry = d.ctx.references.get((cmd.from_.book, cmd.from_.index))
        if (
            entry is None
            or entry.type != "returned_to_supplier"
            or entry.data.get("to") != d.ctx.book
        ):
            return f"entry {cmd.from_.index} of {cmd.from_.book} is not a return to {d.ctx.book}"
        return None

    def issued_out() -> str | None:
        item = d.state.firearms.get(cmd.item) or d.state.boxes.get(cmd.item)
        if item is None or (item.custody.kind == "gone" and item.custody.holder == cmd.from_.book):
            return None
        return f"{cmd.item} was not issued to {cmd.from_.book}"

    d.require(
        [
            *d.armorer_step(),
            d.known("item", cmd.item),
            (Rule.UNKNOWN_ITEM, returned_to_us),
            (Rule.NOT_IN_CUSTODY, issued_out),
        ]
    )
    data: dict[str, Any] = {
        "item": cmd.item,
        "from": to_json(cmd.from_),
        "inspection": _inspection_data(cmd.inspection),
    }
    firearm = d.state.firearms.get(cmd.item)
    if firearm is not None:
        _check_chambers(firearm, cmd.inspection.chambers)
        found = [ch for ch in cmd.inspection.chambers if ch.content != "empty"]
        if found or not cmd.inspection.bore_clear:
            where = ", ".join(f"{ch.content} in chamber {ch.n}" for ch in found) or "bore not clear"
            data["finding"] = f"returned by {cmd.from_.book} (entry {cmd.from_.index}) with {where}"
    return _accept(d, "return_received", data)


# --- the day ---


def _count_findings(d: Decision, counts: Mapping[str, int], when: str) -> list[str]:
    """Counts that differ from the ledger: each is a finding and opens an incident."""
    differing = [
        box
        for box, found in sorted(counts.items())
        if box in d.state.boxes and d.state.boxes[box].count != found
    ]
    if differing:
        detail = "; ".join(
            f"{box}: counted {counts[box]}, ledger {d.state.boxes[box].count}" for box in differing
        )
        d.open_incident(
            "count_mismatch", f"count at {when}: {detail}", differing, Rule.COUNT_MISMATCH
        )
    return differing


@handles(c.OpenDay)
def _open_day(d: Decision) -> list[Event]:
    cmd: c.OpenDay = d.command

    def sole_duty() -> str | None:
        return None if cmd.sole_duty else "the armorer has not declared sole duty for the day"

    d.require(
        [
            *d.armorer_step(),
            d.known("box", *cmd.counts),
            d.known("firearm", *cmd.firearms),
            (Rule.SOLE_DUTY_REQUIRED, sole_duty),
        ]
    )
    if d.state.day is not None and d.state.day.open:
        raise InvalidInput(f"the day {d.state.day.date} is still open: close it first")
    if cmd.date in d.state.days:
        raise InvalidInput(f"the day {cmd.date} was already opened once")
    d.emit("day_opened", d.data())
    _count_findings(d, cmd.counts, f"the opening of {cmd.date}")
    return d.events


def _items_out(d: Decision) -> Check:
    def check() -> str | None:
        items: list[Firearm | Box] = [*d.state.firearms.values(), *d.state.boxes.values()]
        out = [item.id for item in items if not d.state.is_in_locked_storage(item.custody)]
        return f"not in locked storage: {', '.join(sorted(out))}" if out else None

    return Rule.ITEMS_OUT, check


def _day_open(d: Decision) -> Check:
    def check() -> str | None:
        return None if d.state.day is not None and d.state.day.open else "no day is open"

    return Rule.DAY_NOT_OPEN, check


@handles(c.PauseDay)
def _pause_day(d: Decision) -> list[Event]:
    d.require([*d.armorer_step(), _day_open(d), _items_out(d)])
    assert d.state.day is not None
    if d.state.day.paused:
        raise InvalidInput(f"the day {d.state.day.date} is already paused")
    return _accept(d, "day_paused")


@handles(c.ResumeDay)
def _resume_day(d: Decision) -> list[Event]:
    d.require([*d.armorer_step(), _day_open(d)])
    assert d.state.day is not None
    if not d.state.day.paused:
        raise InvalidInput(f"the day {d.state.day.date} is not paused")
    return _accept(d, "day_resumed", {})


@handles(c.CloseDay)
def _close_day(d: Decision) -> list[Event]:
    cmd: c.CloseDay = d.command
    d.require([*d.armorer_step(), d.known("box", *cmd.counts), _day_open(d), _items_out(d)])
    uncounted = sorted(
        box.id
        for box in d.state.boxes.values()
        if box.custody.kind != "gone" and box.id not in cmd.counts
    )
    if uncounted:
        raise InvalidInput(f"count every box to close the day: missing {', '.join(uncounted)}")
    d.emit("day_closed", d.data())
    assert d.state.day is not None
    _count_findings(d, cmd.counts, f"the close of {d.state.day.date}")
    return d.events


# --- scenes and meetings ---


@handles(c.PlanScene)
def _plan_scene(d: Decision) -> list[Event]:
    cmd: c.PlanScene = d.command

    def approver_is_first_ad() -> str | None:
        if "first_ad" in d.state.roles_of(cmd.approved_by.person):
            return None
        return f"{cmd.approved_by.person} is not a first AD: the first AD approves the plan"

    def blank_distance() -> str | None:
        if cmd.blanks is None or cmd.blanks == "specialty":
            return None
        distance = cmd.min_distance_ft
        if distance is None or distance < MIN_BLANK_DISTANCE_FT:
            return (
                f"blanks planned at {distance if distance is not None else 'no stated'} ft; "
                f"at least {MIN_BLANK_DISTANCE_FT} ft (6 m) without specialty blanks"
            )
        return None

    d.require(
        [
            *d.armorer_step(),
            d.known("firearm", *cmd.firearms),
            d.known("person", *cmd.performers, cmd.approved_by.person),
            d.pins([cmd.approved_by.person, *_override_people(d)]),
            (Rule.NOT_PERMITTED, approver_is_first_ad),
            (Rule.BLANK_DISTANCE, blank_distance),
        ]
    )
    d.new_id("scene", cmd.scene, d.state.scenes)
    return _accept(d, "scene_planned")


def _override_people(d: Decision) -> list[str]:
    override = d.envelope.override
    return [a.person for a in override.approvals] if override is not None else []


@handles(c.HoldSafetyMeeting)
def _hold_safety_meeting(d: Decision) -> list[Event]:
    cmd: c.HoldSafetyMeeting = d.command

    def armorer_attends() -> str | None:
        if any(d.state.roles_of(p) & ARMORER_ROLES for p in cmd.attendees):
            return None
        return "an armorer must be among the attendees of a safety meeting"

    d.require(
        [
            d.permitted("first_ad"),
            d.known("scene", cmd.scene),
            d.known("person", *cmd.attendees),
            (Rule.ARMORER_ONLY, armorer_attends),
        ]
    )
    scene = d.state.scenes[cmd.scene]
    held_on = d.state.today or scene.date
    return _accept(d, "safety_meeting_held", {**d.data(), "held_on": held_on})


# --- custody and condition ---


@handles(c.CheckOut)
def _check_out(d: Decision) -> list[Event]:
    cmd: c.CheckOut = d.command

    def intake_done() -> str | None:
        firearm = d.state.firearms.get(cmd.item)
        if firearm is None or firearm.intake_done or not firearm.is_loadable:
            return None
        return f"{cmd.item} has not had its intake inspection"

    def stored_there() -> str | None:
        item = d.state.firearms.get(cmd.item) or d.state.boxes.get(cmd.item)
        if item is None:
            return None
        if item.custody.kind == "location" and item.custody.holder == cmd.from_:
            return None
        return f"{cmd.item} is not stored in {cmd.from_}: it is " + _where(
            item.custody.kind, item.custody.holder
        )

    checks = [
        *d.armorer_step(),
        d.known("item", cmd.item),
        d.known("location", cmd.from_),
        (Rule.INTAKE_INSPECTION_REQUIRED, intake_done),
        (Rule.NOT_IN_CUSTODY, stored_there),
    ]
    if d.state.kind == "production":
        checks.append(d.day_working())
    d.require(checks)
    return _accept(d, "checked_out")


@handles(c.Store)
def _store(d: Decision) -> list[Event]:
    cmd: c.Store = d.command

    def in_hand() -> str | None:
        item = d.state.firearms.get(cmd.item) or d.state.boxes.get(cmd.item)
        if item is None or item.custody.kind in ("armorer", "location"):
            return None
        return f"{cmd.item} is {_where(item.custody.kind, item.custody.holder)}"

    d.require(
        [
            *d.armorer_step(),
            d.known("item", cmd.item),
            d.known("location", cmd.location),
            d.locked(cmd.location),
            (Rule.NOT_IN_CUSTODY, in_hand),
        ]
    )
    return _accept(d, "stored")


@handles(c.VerifyBox)
def _verify_box(d: Decision) -> list[Event]:
    cmd: c.VerifyBox = d.command
    d.require([*d.armorer_step(), d.known("box", cmd.box)])
    box = d.state.boxes[cmd.box]
    if box.kind == "blank" and cmd.method != "crimped":
        raise InvalidInput("blanks are verified by their crimp: use method crimped")
    if box.kind == "dummy" and cmd.method == "crimped":
        raise InvalidInput("dummies are verified by rattle, drilled, no_primer or inert_marked")
    day = d.state.today or d.ctx.time[:10]
    d.emit("box_verified", {**d.data(), "day": day, "ledger_count": box.count})
    if cmd.count != box.count:
        d.open_incident(
            "count_mismatch",
            f"box {cmd.box} counted {cmd.count}, ledger {box.count}",
            [cmd.box],
            Rule.COUNT_MISMATCH,
        )
    return d.events


def _check_chambers(firearm: Firearm, chambers: Sequence[c.ChamberFinding]) -> None:
    numbers = sorted(ch.n for ch in chambers)
    if numbers != list(range(1, firearm.chambers + 1)):
        raise InvalidInput(
            f"{firearm.id} has {firearm.chambers} chambers: list each of 1..{firearm.chambers} once"
        )


def _is_verified_dummy(state: BookState, chamber: c.ChamberFinding, known_box: str | None) -> bool:
    box_id = chamber.box or known_box
    box = state.boxes.get(box_id) if box_id else None
    return (
        chamber.content == "dummy"
        and box is not None
        and box.kind == "dummy"
        and box.verified_on is not None
    )


@handles(c.Inspect)
def _inspect(d: Decision) -> list[Event]:
    cmd: c.Inspect = d.command
    witnesses = [w.person for w in cmd.witnesses]
    boxes = [ch.box for ch in cmd.chambers if ch.box is not None]
    d.require(
        [
            *d.armorer_step(),
            d.known("firearm", cmd.firearm),
            d.known("person", *witnesses),
            d.known("box", *boxes),
            d.pins(witnesses),
        ]
    )
    firearm = d.state.firearms[cmd.firearm]
    _check_chambers(firearm, cmd.chambers)
    if len(set(witnesses)) != len(witnesses) or d.ctx.actor in witnesses:
        raise InvalidInput("each witness signs once, and the armorer cannot witness their own work")
    known = {n + 1: chamber.box for n, chamber in enumerate(firearm.contents)}
    clear = cmd.bore_clear and all(
        ch.content == "empty" or _is_verified_dummy(d.state, ch, known.get(ch.n))
        for ch in cmd.chambers
    )
    d.emit("firearm_inspected", {**d.data(), "clear": clear})
    live = [ch.n for ch in cmd.chambers if ch.content == "live"]
    if live:
        d.open_incident(
            "live_round",
            f"live round found in {cmd.firearm}, chamber {', '.join(map(str, live))}",
            [cmd.firearm],
        )
    missing, stray = _against_the_ledger(d.state, firearm, cmd.chambers)
    if missing:
        # A round the ledger put in a chamber is not what was found: a finding, which stops
        # the work until two people have explained it (the round stays on the books).
        d.open_incident(
            "count_mismatch",
            f"{cmd.firearm}: {'; '.join(missing)}",
            [cmd.firearm],
            Rule.COUNT_MISMATCH,
        )
    if stray:
        d.open_incident(
            "near_miss",
            f"{cmd.firearm}: rounds nobody recorded loading: {'; '.join(stray)}",
            [cmd.firearm],
        )
    return d.events


def _against_the_ledger(
    state: BookState, firearm: Firearm, chambers: Sequence[c.ChamberFinding]
) -> tuple[list[str], list[str]]:
    """What an inspection found that the ledger does not explain: rounds missing or changed in
    chambers the ledger loaded, and rounds in chambers it knows nothing of."""
    missing: list[str] = []
    stray: list[str] = []
    for chamber in chambers:
        if chamber.content in ("live", "unknown"):
            continue  # a live round is its own incident; unknown says nothing
        known = firearm.contents[chamber.n - 1]
        box = state.boxes.get(known.box) if known.box is not None else None
        if box is not None:
            expected = {box.kind, "spent"} if box.kind == "blank" else {box.kind}
            if chamber.content not in expected:
                missing.append(
                    f"chamber {chamber.n} held a {box.kind} from {box.id}, found {chamber.content}"
                )
        elif chamber.content != "empty" and known.content not in ("unknown",):
            stray.append(f"chamber {chamber.n}: {chamber.content}")
    return missing, stray


@handles(c.LoadFirearm)
def _load(d: Decision) -> list[Event]:
    cmd: c.LoadFirearm = d.command
    box_ids = [r.box for r in cmd.rounds]
    state = d.state

    def firearm() -> Firearm:
        return state.firearms[cmd.firearm]

    def boxes() -> list[Box]:
        return [state.boxes[b] for b in dict.fromkeys(box_ids)]

    def calibre() -> str | None:
        wrong = [b.id for b in boxes() if b.calibre != firearm().calibre]
        return f"{', '.join(wrong)} is not {firearm().calibre}" if wrong else None

    def dummies_verified() -> str | None:
        today = state.today
        unverified = [
            b.id
            for b in boxes()
            if b.kind == "dummy" and (b.verified_on is None or b.verified_on != today)
        ]
        return (
            f"box {', '.join(unverified)} is not verified round by round today"
            if unverified
            else None
        )

    def blanks_planned() -> str | None:
        scene = state.scenes[cmd.scene]
        wrong = [b.id for b in boxes() if b.kind == "blank" and b.load != scene.blanks]
        if not wrong:
            return None
        planned = scene.blanks or "no blanks"
        return f"scene {scene.id} is planned with {planned}, not the blanks of {', '.join(wrong)}"

    def available() -> str | None:
        wanted: dict[str, int] = {}
        for box in box_ids:
            wanted[box] = wanted.get(box, 0) + 1
        short = [b for b, n in wanted.items() if state.boxes[b].count < n]
        return f"box {', '.join(short)} holds fewer rounds than that" if short else None

    d.require(
        [
            *d.armorer_step(),
            d.known("firearm", cmd.firearm),
            d.known("scene", cmd.scene),
            d.known("box", *box_ids),
            d.not_frozen(),
            d.day_working(),
            (Rule.CALIBRE_MISMATCH, calibre),
            (Rule.DUMMIES_NOT_VERIFIED, dummies_verified),
            (Rule.BLANKS_NOT_PLANNED, blanks_planned),
            (Rule.ROUNDS_UNAVAILABLE, available),
            d.held_by_me(cmd.firearm),
            *[d.held_by_me(box) for box in dict.fromkeys(box_ids)],
        ]
    )
    loaded = firearm()
    if not loaded.is_loadable:
        raise InvalidInput(f"{cmd.firearm} is {loaded.kind}: it cannot be loaded")
    chambers = [r.chamber for r in cmd.rounds]
    if len(set(chambers)) != len(chambers) or not all(1 <= n <= loaded.chambers for n in chambers):
        raise InvalidInput(f"chambers must be distinct numbers from 1 to {loaded.chambers}")
    occupied = [n for n in chambers if loaded.contents[n - 1].content not in ("empty",)]
    if occupied:
        raise InvalidInput(
            f"chamber {', '.join(map(str, occupied))} is not known to be empty: inspect first"
        )
    return _accept(d, "firearm_loaded")


@handles(c.Unload)
def _unload(d: Decision) -> list[Event]:
    cmd: c.Unload = d.command
    targets = [r.to for r in cmd.rounds if r.to != SPENT]
    as_evidence = cmd.evidence_case is not None
    d.require(
        [
            *d.armorer_step(),
            d.known("firearm", cmd.firearm),
            d.known("box", *targets),
            d.known("case", cmd.evidence_case),
            d.not_frozen(unless=as_evidence),
            d.held_by_me(cmd.firearm),
            d.not_held(cmd.firearm, unless=as_evidence),
        ]
    )
    firearm = d.state.firearms[cmd.firearm]
    for round_out in cmd.rounds:
        if not 1 <= round_out.chamber <= firearm.chambers:
            raise InvalidInput(f"{cmd.firearm} has no chamber {round_out.chamber}")
        chamber = firearm.contents[round_out.chamber - 1]
        if chamber.content == "unknown" and round_out.to != SPENT:
            raise InvalidInput(
                f"chamber {round_out.chamber} of {cmd.firearm} is unknown: inspect it before "
                "putting its round back in a box"
            )
        if chamber.box is None and chamber.content in ("empty", "live"):
            raise InvalidInput(f"chamber {round_out.chamber} of {cmd.firearm} holds no round")
        if round_out.to != SPENT and (
            chamber.box is None or chamber.content in ("spent", "empty", "unknown")
        ):
            raise InvalidInput(
                f"chamber {round_out.chamber} holds a {chamber.content} round the ledger cannot "
                "put back in a box: unload it as spent"
            )
        if round_out.to != SPENT:
            assert chamber.box is not None
            source, target = d.state.boxes[chamber.box], d.state.boxes[round_out.to]
            if (source.kind, source.load, source.calibre) != (
                target.kind,
                target.load,
                target.calibre,
            ):
                raise InvalidInput(
                    f"the round in chamber {round_out.chamber} came from {source.id}: it can go "
                    f"back only to a box of the same kind, load and calibre"
                )
    return _accept(d, "firearm_unloaded")


@handles(c.HandOver)
def _hand_over(d: Decision) -> list[Event]:
    cmd: c.HandOver = d.command
    state = d.state

    def firearm() -> Firearm:
        return state.firearms[cmd.firearm]

    def today() -> str:
        return state.today or ""

    def performer() -> str | None:
        if "performer" not in state.roles_of(cmd.to):
            return f"{cmd.to} is not enrolled as a performer"
        refusal = state.refused_to_handle.get((cmd.to, cmd.firearm))
        if refusal is not None and refusal[1] == today():
            # No one may be coaxed into handling a firearm (SPEC §2): never overridable.
            return f"{cmd.to} refused to handle {cmd.firearm} today (entry {refusal[0]})"
        return None

    def trained() -> str | None:
        if state.people[cmd.to].has_current_training(today()):
            return None
        return f"{cmd.to} has no current firearms-safety training"

    def at_meeting() -> str | None:
        if state.scenes[cmd.scene].attended_today(cmd.to, today()):
            return None
        return f"{cmd.to} did not attend today's safety meeting for scene {cmd.scene}"

    def planned() -> str | None:
        scene = state.scenes[cmd.scene]
        missing = [
            x
            for x, plan in ((cmd.firearm, scene.firearms), (cmd.to, scene.performers))
            if x not in plan
        ]
        return f"{' and '.join(missing)} not in the plan of scene {cmd.scene}" if missing else None

    def inspected() -> str | None:
        gun = firearm()
        if not gun.is_loadable:
            return None
        inspection = gun.current_inspection
        if inspection is None:
            return f"{cmd.firearm} has not been inspected since it was last out of your hands"
        if inspection.has_unknown:
            return f"the last inspection of {cmd.firearm} left a chamber unknown"
        return None

    def witnessed() -> str | None:
        gun = firearm()
        inspection = gun.current_inspection
        if not gun.is_loadable or inspection is None:
            return None
        first_ads = [
            w for w in inspection.witnesses if w != cmd.to and "first_ad" in state.roles_of(w)
        ]
        if inspection.purpose == "pre_handover" and cmd.to in inspection.witnesses and first_ads:
            return None
        return (
            f"the pre_handover inspection of {cmd.firearm} must be witnessed by {cmd.to} and a "
            "first AD"
        )

    def blanks() -> str | None:
        gun = firearm()
        loads = {
            state.boxes[ch.box].load
            for ch in gun.contents
            if ch.box is not None and state.boxes[ch.box].kind == "blank"
        }
        planned_load = state.scenes[cmd.scene].blanks
        wrong = [load for load in loads if load != planned_load]
        return (
            f"{cmd.firearm} holds {wrong[0]} blanks; scene {cmd.scene} is planned with "
            f"{planned_load or 'none'}"
            if wrong
            else None
        )

    d.require(
        [
            *d.armorer_step(),
            d.known("firearm", cmd.firearm),
            d.known("person", cmd.to),
            d.known("scene", cmd.scene),
            d.pins(_override_people(d)),
            d.not_frozen(),
            d.day_working(),
            (Rule.NOT_A_PERFORMER, performer),
            (Rule.TRAINING_REQUIRED, trained),
            (Rule.SAFETY_MEETING_REQUIRED, at_meeting),
            (Rule.SCENE_NOT_PLANNED, planned),
            (Rule.INSPECTION_REQUIRED, inspected),
            (Rule.WITNESS_REQUIRED, witnessed),
            (Rule.BLANKS_NOT_PLANNED, blanks),
            d.held_by_me(cmd.firearm),
        ]
    )
    return _accept(d, "firearm_handed_over")


@handles(c.TakeBack)
def _take_back(d: Decision) -> list[Event]:
    cmd: c.TakeBack = d.command

    def with_performer() -> str | None:
        firearm = d.state.firearms.get(cmd.firearm)
        if firearm is None:
            return None
        if firearm.custody.kind == "performer" and firearm.custody.holder == cmd.from_:
            return None
        return f"{cmd.firearm} is not with {cmd.from_}: it is " + _where(
            firearm.custody.kind, firearm.custody.holder
        )

    d.require(
        [
            *d.armorer_step(),
            d.known("firearm", cmd.firearm),
            d.known("person", cmd.from_),
            (Rule.NOT_IN_CUSTODY, with_performer),
        ]
    )
    if cmd.rounds_fired < 0 or (cmd.misfires or 0) < 0:
        raise InvalidInput("rounds_fired and misfires cannot be negative")
    events = _accept(d, "firearm_taken_back")
    if cmd.misfires:
        d.open_incident(
            "misfire", f"{cmd.misfires} misfire(s) reported at take back", [cmd.firearm]
        )
    return events


@handles(c.Declare)
def _declare(d: Decision) -> list[Event]:
    cmd: c.Declare = d.command

    def clear() -> str | None:
        if cmd.status != "cold":
            return None
        for firearm_id in cmd.firearms:
            firearm = d.state.firearms[firearm_id]
            if not firearm.is_loadable:
                continue
            inspection = firearm.current_inspection
            if inspection is None or not inspection.clear:
                return f"{firearm_id} is not inspected with every chamber empty or verified dummy"
        return None

    d.require(
        [
            *d.armorer_step(),
            d.known("scene", cmd.scene),
            d.known("firearm", *cmd.firearms),
            d.known("person", cmd.announced_by),
            (Rule.COLD_REQUIRES_CLEAR, clear),
        ]
    )
    return _accept(d, "declared")


@handles(c.MoveRounds)
def _move_rounds(d: Decision) -> list[Event]:
    cmd: c.MoveRounds = d.command

    def same_calibre() -> str | None:
        source, target = d.state.boxes[cmd.from_], d.state.boxes[cmd.to]
        if source.calibre != target.calibre:
            return f"{cmd.from_} is {source.calibre}, {cmd.to} is {target.calibre}"
        return None

    def available() -> str | None:
        box = d.state.boxes[cmd.from_]
        return f"box {box.id} holds {box.count}, not {cmd.count}" if box.count < cmd.count else None

    d.require(
        [
            *d.armorer_step(),
            d.known("box", cmd.from_, cmd.to),
            (Rule.CALIBRE_MISMATCH, same_calibre),
            (Rule.ROUNDS_UNAVAILABLE, available),
            d.held_by_me(cmd.from_),
            d.held_by_me(cmd.to),
            d.not_held(cmd.from_),
            d.not_held(cmd.to),
        ]
    )
    source, target = d.state.boxes[cmd.from_], d.state.boxes[cmd.to]
    if (source.kind, source.load) != (target.kind, target.load):
        raise InvalidInput("rounds move only between boxes of the same kind and load")
    if cmd.count <= 0 or cmd.from_ == cmd.to:
        raise InvalidInput("move a positive count between two different boxes")
    return _accept(d, "rounds_moved")


@handles(c.Dispose)
def _dispose(d: Decision) -> list[Event]:
    cmd: c.Dispose = d.command

    def available() -> str | None:
        box = d.state.boxes[cmd.box]
        return f"box {box.id} holds {box.count}, not {cmd.count}" if box.count < cmd.count else None

    d.require(
        [
            *d.armorer_step(),
            d.known("box", cmd.box),
            d.not_frozen(),
            (Rule.ROUNDS_UNAVAILABLE, available),
            d.not_held(cmd.box),
        ]
    )
    if cmd.count <= 0:
        raise InvalidInput("dispose of a positive count")
    return _accept(d, "rounds_disposed")


@handles(c.RefuseToHandle)
def _refuse_to_handle(d: Decision) -> list[Event]:
    cmd: c.RefuseToHandle = d.command
    d.require([_anyone(d), d.known("firearm", cmd.firearm)])
    return _accept(d, "refusal_recorded")


# --- incidents, evidence, corrections ---


def _anyone(d: Decision) -> Check:
    """Every enrolled person but an investigator (SPEC §2: report, refuse)."""
    return d.permitted(
        "armorer",
        "assistant_armorer",
        "first_ad",
        "performer",
        "safety",
        "crew",
        "supplier_agent",
        handles_items=False,
    )


@handles(c.ReportLiveRound)
def _report_live_round(d: Decision) -> list[Event]:
    cmd: c.ReportLiveRound = d.command
    where = cmd.where
    d.require(
        [
            _anyone(d),
            d.known("box", where.box),
            d.known("firearm", where.firearm),
            d.known("location", where.location),
            d.known("person", where.person),
        ]
    )
    named = [x for x in (where.box, where.firearm, where.location, where.person) if x is not None]
    if len(named) != 1:
        raise InvalidInput("say where the round is: exactly one of box, firearm, location, person")
    d.emit("live_round_reported", d.data())
    d.open_incident("live_round", cmd.description, named)
    return d.events


@handles(c.ReportIncident)
def _report_incident(d: Decision) -> list[Event]:
    cmd: c.ReportIncident = d.command
    d.require([_anyone(d), d.known("item", *cmd.items)])
    d.emit("incident_reported", d.data())
    d.open_incident(cmd.kind, cmd.description, cmd.items)
    return d.events


@handles(c.ResolveIncident)
def _resolve_incident(d: Decision) -> list[Event]:
    cmd: c.ResolveIncident = d.command
    approvers = [a.person for a in cmd.approvals]

    def two_people() -> str | None:
        if len(approvers) == 2 and _armorer_and_safety(d.state, approvers):
            return None
        return "an incident is resolved by two different people: an armorer and a safety supervisor"

    def inventory() -> str | None:
        incident = d.state.incidents[cmd.incident]
        if not incident.is_live_round:
            return None
        since = incident.opened_index
        boxes = [
            b.id
            for b in d.state.boxes.values()
            if b.custody.kind != "gone"
            and b.count > 0
            and (b.counted_index is None or b.counted_index < since)
        ]
        firearms = [
            f.id
            for f in d.state.firearms.values()
            if f.custody.kind != "gone"
            and f.is_loadable
            and (f.inspection is None or f.inspection.index < since)
        ]
        if not boxes and not firearms:
            return None
        missing = ", ".join(
            [*(f"box {b}" for b in sorted(boxes)), *(f"firearm {f}" for f in sorted(firearms))]
        )
        return f"not yet verified or inspected since the report: {missing}"

    d.require(
        [
            d.permitted("armorer", "safety"),
            d.known("incident", cmd.incident),
            d.known("person", *approvers),
            d.pins(approvers),
            (Rule.TWO_PERSON_RULE, two_people),
            (Rule.INVENTORY_REQUIRED, inventory),
        ]
    )
    if not d.state.incidents[cmd.incident].open:
        raise InvalidInput(f"incident {cmd.incident} is already resolved")
    return _accept(
        d,
        "incident_resolved",
        {"incident": cmd.incident, "resolution": cmd.resolution, "approvers": approvers},
    )


@handles(c.OpenCase)
def _open_case(d: Decision) -> list[Event]:
    cmd: c.OpenCase = d.command
    d.require([_case_opener(d), d.known("incident", cmd.incident)])
    d.new_id("case", cmd.case, d.state.cases)
    return _accept(d, "case_opened")


def _case_opener(d: Decision) -> Check:
    """Investigators write nothing, except that they may open the case they investigate."""

    def check() -> str | None:
        roles = d.state.roles_of(d.ctx.actor)
        if roles & {"safety", "investigator"}:
            return None
        if not roles:
            return f"{d.ctx.actor} is not enrolled in this book"
        return "only a safety supervisor or an investigator opens a case"

    return Rule.NOT_PERMITTED, check


@handles(c.HoldAsEvidence)
def _hold_as_evidence(d: Decision) -> list[Event]:
    cmd: c.HoldAsEvidence = d.command
    d.require([d.permitted("safety"), d.known("case", cmd.case), d.known("item", *cmd.items)])
    return _accept(d, "evidence_held")


@handles(c.ReleaseEvidence)
def _release_evidence(d: Decision) -> list[Event]:
    cmd: c.ReleaseEvidence = d.command
    d.require([d.permitted("safety"), d.known("case", cmd.case), d.known("item", *cmd.items)])
    return _accept(d, "evidence_released")


@handles(c.Correct)
def _correct(d: Decision) -> list[Event]:
    cmd: c.Correct = d.command

    def exists() -> str | None:
        if (d.ctx.book, cmd.entry) in d.ctx.references and cmd.entry < d.state.size:
            return None
        return f"there is no entry {cmd.entry} in this book"

    def author_or_armorer() -> str | None:
        original = d.ctx.references.get((d.ctx.book, cmd.entry))
        roles = d.state.roles_of(d.ctx.actor)
        if original is None or original.actor == d.ctx.actor or roles & ARMORER_ROLES:
            return None
        return "only the author of the entry or the armorer may correct it"

    d.require([_anyone(d), (Rule.UNKNOWN_ITEM, exists), (Rule.NOT_PERMITTED, author_or_armorer)])
    original = d.ctx.references[(d.ctx.book, cmd.entry)]
    if original.type in ("entry_corrected", "command_refused", "book_created"):
        raise InvalidInput(f"entry {cmd.entry} ({original.type}) cannot be corrected")
    subject = next(
        (original.data[key] for key in SUBJECT_KEYS if isinstance(original.data.get(key), str)),
        None,
    )
    return _accept(
        d, "entry_corrected", {**d.data(), "original_type": original.type, "subject": subject}
    )


@handles(c.Attach)
def _attach(d: Decision) -> list[Event]:
    cmd: c.Attach = d.command

    def subject_known() -> str | None:
        s = d.state
        tables: list[Mapping[str, Any]] = [
            s.firearms,
            s.boxes,
            s.incidents,
            s.cases,
            s.scenes,
            s.people,
            s.locations,
        ]
        if any(cmd.subject in table for table in tables):
            return None
        return f"there is nothing called {cmd.subject!r} in this book"

    d.require([_anyone(d), (Rule.UNKNOWN_ITEM, subject_known)])
    if len(cmd.sha256) != 64 or any(ch not in "0123456789abcdef" for ch in cmd.sha256):
        raise InvalidInput("sha256 must be 64 lowercase hex digits")
    return _accept(d, "attachment_added")
