"""evolve(state, event) -> state: how each recorded event changes a book's state.

Pure: the next state depends on the last state and the event alone, so folding a book's
entries from the start always gives the same state (SPEC §4.3, invariant 5). Entry types this
version does not know (plain notes, for example) leave the state as it was, but count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from armory.domain.state import (
    BookState,
    Box,
    Case,
    Chamber,
    Correction,
    Custody,
    Day,
    Firearm,
    Incident,
    Inspection,
    Location,
    Meeting,
    Person,
    Refusal,
    Scene,
    Training,
)


@dataclass(frozen=True)
class Recorded:
    """An event as the ledger holds it: where, when, by whom, what."""

    index: int
    time: str
    actor: str
    type: str
    data: Mapping[str, Any]


Handler = Callable[[BookState, Recorded], BookState]
R = TypeVar("R")
HANDLERS: dict[str, Handler] = {}


def handles(*types: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for kind in types:
            HANDLERS[kind] = handler
        return handler

    return register


def evolve(state: BookState, event: Recorded) -> BookState:
    """The state after `event`."""
    handler = HANDLERS.get(event.type)
    if handler is not None:
        state = handler(state, event)
    return _with(state, size=event.index + 1)


def fold(events: list[Recorded], state: BookState | None = None) -> BookState:
    state = state or BookState()
    for event in events:
        state = evolve(state, event)
    return state


def _with(record: R, **changes: Any) -> R:
    """A copy of one of the state's frozen records with `changes`: `dataclasses.replace`
    without calling the class again. A frozen dataclass's __init__ sets each field through
    `object.__setattr__`, and a fold makes new records for every event: replace was a fifth of
    a rebuild's time (docs/architecture.md). The records have no __post_init__ to skip."""
    fields = type(record).__dataclass_fields__  # type: ignore[attr-defined]  # a dataclass
    if not changes.keys() <= fields.keys():
        unknown = sorted(changes.keys() - fields.keys())
        raise TypeError(f"{type(record).__name__} has no field {unknown}")
    copy: R = object.__new__(type(record))
    copy.__dict__.update(record.__dict__)
    copy.__dict__.update(changes)
    return copy


def _put(mapping: Mapping[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**mapping, key: value}


def _firearm(state: BookState, firearm: Firearm) -> BookState:
    return _with(state, firearms=_put(state.firearms, firearm.id, firearm))


def _box(state: BookState, box: Box) -> BookState:
    return _with(state, boxes=_put(state.boxes, box.id, box))


def _custody(state: BookState, item: str, custody: Custody) -> BookState:
    if item in state.firearms:
        return _firearm(state, _with(state.firearms[item], custody=custody))
    if item in state.boxes:
        return _box(state, _with(state.boxes[item], custody=custody))
    return state


# --- set-up ---


@handles("book_created")
def _book_created(state: BookState, event: Recorded) -> BookState:
    return _with(state, kind=event.data["kind"])


@handles("person_enrolled")
def _person_enrolled(state: BookState, event: Recorded) -> BookState:
    data = event.data
    known = state.people.get(data["person"])
    trainings = known.trainings if known is not None else ()
    person = Person(data["person"], data["name"], frozenset(data["roles"]), trainings)
    return _with(state, people=_put(state.people, person.id, person))


@handles("person_trained")
def _person_trained(state: BookState, event: Recorded) -> BookState:
    data = event.data
    person = state.people[data["person"]]
    training = Training(
        data["course"],
        data["completed_on"],
        data.get("expires_on"),
        data.get("permit"),
        event.index,
    )
    person = _with(person, trainings=(*person.trainings, training))
    return _with(state, people=_put(state.people, person.id, person))


@handles("location_registered")
def _location_registered(state: BookState, event: Recorded) -> BookState:
    d = event.data
    location = Location(d["location"], d["name"], d["kind"], d["locked"], tuple(d["keyholders"]))
    return _with(state, locations=_put(state.locations, location.id, location))


# --- receiving and returning ---


@handles("firearm_received")
def _firearm_received(state: BookState, event: Recorded) -> BookState:
    d = event.data
    firearm = Firearm(
        id=d["firearm"],
        serial=d["serial"],
        make=d["make"],
        model=d["model"],
        calibre=d["calibre"],
        kind=d["kind"],
        chambers=d["chambers"],
        label=d.get("label"),
        source=d["from"],
        custody=Custody("location", d["location"]),
        received_index=event.index,
        contents=tuple(Chamber("unknown") for _ in range(d["chambers"])),
        flags=tuple(d.get("flags", ())),
    )
    return _firearm(state, firearm)


@handles("box_received")
def _box_received(state: BookState, event: Recorded) -> BookState:
    d = event.data
    box = Box(
        id=d["box"],
        label=d["label"],
        kind=d["kind"],
        load=d.get("load"),
        calibre=d["calibre"],
        maker=d["maker"],
        maker_lot=d["maker_lot"],
        count=d["count"],
        received=d["count"],
        source=d["from"],
        custody=Custody("location", d["location"]),
        received_index=event.index,
    )
    return _box(state, box)


@handles("returned_to_supplier", "issued")
def _gone(state: BookState, event: Recorded) -> BookState:
    return _custody(state, event.data["item"], Custody("gone", event.data["to"]))


@handles("return_received")
def _return_received(state: BookState, event: Recorded) -> BookState:
    d = event.data
    item = d["item"]
    if item in state.firearms:
        firearm = state.firearms[item]
        flags = firearm.flags
        if d.get("finding"):
            flags = (*flags, d["finding"])
        chambers = tuple(Chamber(c["content"], c.get("box")) for c in d["inspection"]["chambers"])
        return _firearm(
            state,
            _with(
                firearm,
                custody=Custody("armorer", event.actor),
                contents=chambers,
                flags=flags,
                inspection_current=False,
            ),
        )
    return _custody(state, item, Custody("armorer", event.actor))


# --- the day ---


@handles("day_opened")
def _day_opened(state: BookState, event: Recorded) -> BookState:
    d = event.data
    day = Day(d["date"], open=True, paused=False, opened_by=event.actor, opened_index=event.index)
    record = {
        "date": d["date"],
        "opened_index": event.index,
        "opened_by": event.actor,
        "open_counts": d["counts"],
        "pauses": [],
    }
    return _with(state, day=day, days=_put(state.days, d["date"], record))


@handles("day_paused", "day_resumed")
def _day_paused(state: BookState, event: Recorded) -> BookState:
    assert state.day is not None
    paused = event.type == "day_paused"
    record = dict(state.days.get(state.day.date, {}))
    record["pauses"] = [*record.get("pauses", []), {"index": event.index, "paused": paused}]
    return _with(
        state, day=_with(state.day, paused=paused), days=_put(state.days, state.day.date, record)
    )


@handles("day_closed")
def _day_closed(state: BookState, event: Recorded) -> BookState:
    assert state.day is not None
    record = dict(state.days.get(state.day.date, {}))
    record.update(closed_index=event.index, close_counts=event.data["counts"])
    # A verification is valid until the day closes (SPEC §4.2 verify_box).
    boxes = {
        key: _with(box, verified_on=None, verified_index=None) if box.verified_on else box
        for key, box in state.boxes.items()
    }
    return _with(
        state,
        day=_with(state.day, open=False, paused=False),
        days=_put(state.days, state.day.date, record),
        boxes=boxes,
    )


# --- scenes and meetings ---


@handles("scene_planned")
def _scene_planned(state: BookState, event: Recorded) -> BookState:
    d = event.data
    scene = Scene(
        id=d["scene"],
        date=d["date"],
        title=d["title"],
        firearms=tuple(d["firearms"]),
        performers=tuple(d["performers"]),
        blanks=d.get("blanks"),
        min_distance_ft=d.get("min_distance_ft"),
        muzzle_toward_person=d["muzzle_toward_person"],
        approved_by=d["approved_by"],
        index=event.index,
    )
    return _with(state, scenes=_put(state.scenes, scene.id, scene))


@handles("safety_meeting_held")
def _safety_meeting_held(state: BookState, event: Recorded) -> BookState:
    d = event.data
    scene = state.scenes[d["scene"]]
    meeting = Meeting(d["held_on"], frozenset(d["attendees"]), tuple(d["topics"]), event.index)
    scene = _with(scene, meetings=(*scene.meetings, meeting))
    return _with(state, scenes=_put(state.scenes, scene.id, scene))


@handles("declared")
def _declared(state: BookState, event: Recorded) -> BookState:
    scene = state.scenes[event.data["scene"]]
    scene = _with(scene, status=event.data["status"])
    return _with(state, scenes=_put(state.scenes, scene.id, scene))


# --- custody and condition ---


@handles("checked_out")
def _checked_out(state: BookState, event: Recorded) -> BookState:
    item = event.data["item"]
    state = _custody(state, item, Custody("armorer", event.actor))
    if item in state.firearms:
        # An inspection made in storage is not one made in the armorer's hands.
        state = _firearm(state, _with(state.firearms[item], inspection_current=False))
    return state


@handles("stored")
def _stored(state: BookState, event: Recorded) -> BookState:
    item = event.data["item"]
    state = _custody(state, item, Custody("location", event.data["location"]))
    if item in state.firearms:
        # Out of the armorer's hands: what the last inspection saw may no longer hold.
        state = _firearm(state, _with(state.firearms[item], inspection_current=False))
    return state


@handles("box_verified")
def _box_verified(state: BookState, event: Recorded) -> BookState:
    d = event.data
    box = state.boxes[d["box"]]
    if d["count"] != box.count or not d["every_round"]:
        return _box(state, _with(box, verified_on=None, verified_index=None))
    return _box(
        state,
        _with(box, verified_on=d["day"], verified_index=event.index, counted_index=event.index),
    )


@handles("firearm_inspected")
def _firearm_inspected(state: BookState, event: Recorded) -> BookState:
    d = event.data
    firearm = state.firearms[d["firearm"]]
    chambers = tuple(Chamber(c["content"], c.get("box")) for c in d["chambers"])
    # A round the ledger loaded stays tied to its box, whatever was found, until it is
    # unloaded (a difference opened an incident); what was found is what is shown.
    contents = tuple(
        Chamber(found.content, known.box)
        for found, known in zip(chambers, firearm.contents, strict=True)
    )
    inspection = Inspection(
        index=event.index,
        purpose=d["purpose"],
        chambers=chambers,
        bore_clear=d["bore_clear"],
        witnesses=tuple(d["witnesses"]),
        by=event.actor,
        clear=d["clear"],
    )
    return _firearm(
        state,
        _with(
            firearm,
            contents=contents,
            inspection=inspection,
            inspection_current=True,
            intake_done=firearm.intake_done or d["purpose"] == "intake",
        ),
    )


@handles("firearm_loaded")
def _firearm_loaded(state: BookState, event: Recorded) -> BookState:
    d = event.data
    firearm = state.firearms[d["firearm"]]
    contents = list(firearm.contents)
    taken: dict[str, int] = {}
    for round_in in d["rounds"]:
        box = state.boxes[round_in["box"]]
        contents[round_in["chamber"] - 1] = Chamber(box.kind, box.id)
        taken[box.id] = taken.get(box.id, 0) + 1
    for box_id, count in taken.items():
        box = state.boxes[box_id]
        state = _box(state, _with(box, count=box.count - count, loaded_out=box.loaded_out + count))
    firearm = _with(firearm, contents=tuple(contents), inspection_current=False, scene=d["scene"])
    return _firearm(state, firearm)


@handles("firearm_unloaded")
def _firearm_unloaded(state: BookState, event: Recorded) -> BookState:
    d = event.data
    firearm = state.firearms[d["firearm"]]
    contents = list(firearm.contents)
    for round_out in d["rounds"]:
        contents[round_out["chamber"] - 1] = Chamber("empty")
        if round_out["to"] != "spent":
            box = state.boxes[round_out["to"]]
            # Rounds put into a box end its verification (SPEC §4.2 verify_box).
            state = _box(
                state,
                _with(
                    box,
                    count=box.count + 1,
                    unloaded_back=box.unloaded_back + 1,
                    verified_on=None,
                    verified_index=None,
                ),
            )
    return _firearm(state, _with(firearm, contents=tuple(contents), inspection_current=False))


@handles("firearm_handed_over")
def _firearm_handed_over(state: BookState, event: Recorded) -> BookState:
    d = event.data
    firearm = state.firearms[d["firearm"]]
    return _firearm(
        state,
        _with(
            firearm,
            custody=Custody("performer", d["to"]),
            scene=d["scene"],
            inspection_current=False,  # it has left the armorer's hands
        ),
    )


@handles("firearm_taken_back")
def _firearm_taken_back(state: BookState, event: Recorded) -> BookState:
    d = event.data
    firearm = state.firearms[d["firearm"]]
    # Until inspected, nobody knows what is in the chambers: the rounds stay tied to their
    # boxes for the count, but every chamber reads unknown.
    contents = tuple(Chamber("unknown", chamber.box) for chamber in firearm.contents)
    return _firearm(
        state,
        _with(
            firearm,
            custody=Custody("armorer", event.actor),
            contents=contents,
            inspection_current=False,
            rounds_fired=firearm.rounds_fired + d["rounds_fired"],
        ),
    )


@handles("rounds_moved")
def _rounds_moved(state: BookState, event: Recorded) -> BookState:
    d = event.data
    source, target = state.boxes[d["from"]], state.boxes[d["to"]]
    count = d["count"]
    state = _box(
        state, _with(source, count=source.count - count, moved_out=source.moved_out + count)
    )
    target = state.boxes[d["to"]]
    return _box(
        state,
        _with(
            target,
            count=target.count + count,
            moved_in=target.moved_in + count,
            verified_on=None,
            verified_index=None,
        ),
    )


@handles("rounds_disposed")
def _rounds_disposed(state: BookState, event: Recorded) -> BookState:
    box = state.boxes[event.data["box"]]
    count = event.data["count"]
    return _box(state, _with(box, count=box.count - count, disposed=box.disposed + count))


# --- incidents, evidence, corrections ---


@handles("incident_opened")
def _incident_opened(state: BookState, event: Recorded) -> BookState:
    d = event.data
    incident = Incident(
        id=d["incident"],
        kind=d["kind"],
        critical=d["critical"],
        open=True,
        opened_index=event.index,
        rule=d.get("rule"),
        items=tuple(d.get("items", ())),
        description=d.get("description", ""),
    )
    return _with(state, incidents=_put(state.incidents, incident.id, incident))


@handles("incident_resolved")
def _incident_resolved(state: BookState, event: Recorded) -> BookState:
    d = event.data
    incident = _with(
        state.incidents[d["incident"]],
        open=False,
        resolution=d["resolution"],
        resolved_by=tuple(d["approvers"]),
        resolved_index=event.index,
    )
    return _with(state, incidents=_put(state.incidents, incident.id, incident))


@handles("case_opened")
def _case_opened(state: BookState, event: Recorded) -> BookState:
    d = event.data
    case = Case(d["case"], d["agency"], d["officer"], d.get("incident"), event.actor, event.index)
    return _with(state, cases=_put(state.cases, case.id, case))


@handles("evidence_held", "evidence_released")
def _evidence(state: BookState, event: Recorded) -> BookState:
    d = event.data
    held = event.type == "evidence_held"
    case = state.cases[d["case"]]
    items = case.items | set(d["items"]) if held else case.items - set(d["items"])
    state = _with(state, cases=_put(state.cases, case.id, _with(case, items=frozenset(items))))
    for item in d["items"]:
        if item in state.firearms:
            firearm = state.firearms[item]
            marks = firearm.evidence | {case.id} if held else firearm.evidence - {case.id}
            state = _firearm(state, _with(firearm, evidence=marks))
        elif item in state.boxes:
            box = state.boxes[item]
            marks = box.evidence | {case.id} if held else box.evidence - {case.id}
            state = _box(state, _with(box, evidence=marks))
    return state


@handles("bundle_exported")
def _bundle_exported(state: BookState, event: Recorded) -> BookState:
    case_id = event.data.get("case")
    if case_id is None or case_id not in state.cases:
        return state
    case = state.cases[case_id]
    case = _with(case, exports=(*case.exports, event.index))
    return _with(state, cases=_put(state.cases, case.id, case))


@handles("command_refused")
def _command_refused(state: BookState, event: Recorded) -> BookState:
    d = event.data
    refusal = Refusal(
        event.index, d["rule"], d["command"], event.actor, tuple(d.get("items", ())), event.time
    )
    return _with(state, refusals=(*state.refusals, refusal))


@handles("override_applied")
def _override_applied(state: BookState, event: Recorded) -> BookState:
    return _with(state, overrides=(*state.overrides, event.index))


@handles("refusal_recorded")
def _refusal_recorded(state: BookState, event: Recorded) -> BookState:
    day = state.today or event.time[:10]
    key = (event.actor, event.data["firearm"])
    return _with(state, refused_to_handle={**state.refused_to_handle, key: (event.index, day)})


@handles("entry_corrected")
def _entry_corrected(state: BookState, event: Recorded) -> BookState:
    d = event.data
    correction = Correction(
        event.index, d["entry"], d["reason"], d["fields"], event.actor, d.get("subject")
    )
    return _with(state, corrections=(*state.corrections, correction))
