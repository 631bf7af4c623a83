"""decide and evolve on their own: pure functions of a state, a command and a context.

The state is a pure function of the book's events (SPEC §4.3, invariant 5): folding the entries
gives what the service holds, what a fresh service replays and what the projections store.
decide reads a state and answers with events or a refusal, and changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from armory.domain.commands import parse_command
from armory.domain.decide import Context, Event, Refused, decide
from armory.domain.evolve import Recorded, evolve, fold
from armory.domain.projections import documents, same_state, state_from_documents
from armory.domain.rules import Rule
from armory.domain.state import BookState, Chamber, Custody
from armory.ledger.entry import Draft
from armory.services.commands import CommandService
from tests.unit.domain.conftest import (
    BOOK,
    TODAY,
    Command,
    OnSet,
    check_out,
    hand_over,
    hold_safety_meeting,
    inspect,
    load,
    pin,
    plan_scene,
    receive_box,
    report_incident,
    report_live_round,
    resolve_incident,
    take_back,
    verify_box,
    with_override,
)

NOON = f"{TODAY}T12:00:00.000Z"


def context(state: BookState, actor: str = "ana", **extra: Any) -> Context:
    return Context(book=BOOK, actor=actor, time=NOON, next_index=state.size, **extra)


def decided(state: BookState, actor: str, command: Command, **extra: Any) -> list[Event]:
    return decide(state, parse_command(command), context(state, actor, **extra))


def refused_by(state: BookState, actor: str, command: Command, **extra: Any) -> Refused:
    with pytest.raises(Refused) as raised:
        decided(state, actor, command, **extra)
    return raised.value


def a_busy_day(s: OnSet) -> None:
    """Custody, loading, a refusal, an override, incidents and a case: most kinds of event."""
    s.attempt("dave", hand_over())
    s.do("ana", plan_scene("S3", firearms=["RG"], performers=["lee"]))
    s.do("dave", hold_safety_meeting("S3"))
    s.ready_to_hand_over()
    s.do("ana", with_override(hand_over(scene="S3")))
    s.do("ana", take_back())
    s.do("cal", report_incident("discharge"))
    s.do("sam", {"type": "open_case", "case": "C1", "agency": "Sheriff", "officer": "Hale"})
    s.do("ana", resolve_incident(s.open_incident()))
    s.attempt("ana", receive_box("L1", kind="live"))


# --- the state is a pure function of the events ---


def test_folding_the_books_entries_gives_the_state_the_service_holds(on_set: OnSet) -> None:
    a_busy_day(on_set)
    folded = fold(on_set.recorded())
    assert folded == on_set.state
    assert same_state(folded, on_set.state)
    assert folded.size == on_set.size


def test_a_fresh_service_replaying_the_ledger_gives_the_same_state(on_set: OnSet) -> None:
    a_busy_day(on_set)
    fresh = CommandService(on_set.ledger, on_set.accounts)
    assert fresh.state(BOOK) == on_set.state


def test_the_stored_projections_describe_the_state_of_the_events(on_set: OnSet) -> None:
    a_busy_day(on_set)
    stored = state_from_documents(on_set.store.projections[BOOK])
    assert same_state(stored, fold(on_set.recorded()))
    rebuilt, unchanged = on_set.service.rebuild(BOOK)
    assert unchanged
    assert rebuilt == fold(on_set.recorded())


def test_folding_in_two_parts_gives_the_same_state_as_folding_at_once(on_set: OnSet) -> None:
    a_busy_day(on_set)
    events = on_set.recorded()
    half = len(events) // 2
    assert fold(events[half:], fold(events[:half])) == fold(events)


def test_evolve_ignores_an_entry_type_it_does_not_know_but_counts_it(on_set: OnSet) -> None:
    state = on_set.state
    note = Recorded(state.size, NOON, "root", "note", {"text": "rain delay"})
    assert evolve(state, note) == replace(state, size=state.size + 1)


def test_an_unknown_entry_in_the_ledger_leaves_the_state_and_the_rules_alone(
    on_set: OnSet,
) -> None:
    before = on_set.state
    on_set.ledger.append(BOOK, [Draft.of("root", "weather_report", {"rain": True})])
    after = on_set.state
    assert after == replace(before, size=before.size + 1)
    outcome = on_set.do("ana", check_out("R1"))
    assert outcome.events[0]["index"] == before.size + 1


def test_evolve_does_not_change_the_state_it_is_given(on_set: OnSet) -> None:
    on_set.checked_out("R1", "D1")
    on_set.verified("D1")
    state = on_set.state
    snapshot = documents(state)
    loaded = Recorded(
        state.size,
        NOON,
        "ana",
        "firearm_loaded",
        {"firearm": "R1", "scene": "S1", "rounds": [{"chamber": 1, "box": "D1"}]},
    )
    after = evolve(state, loaded)
    assert documents(state) == snapshot
    assert after.boxes["D1"].count == state.boxes["D1"].count - 1


# --- decide reads a state and changes nothing ---


def test_decide_gives_the_same_events_twice_and_leaves_the_state_as_it_was(
    on_set: OnSet,
) -> None:
    on_set.ready_to_hand_over()
    state = on_set.state
    snapshot = documents(state)
    first = decided(state, "ana", hand_over())
    assert first == decided(state, "ana", hand_over())
    assert [event.type for event in first] == ["firearm_handed_over"]
    assert documents(state) == snapshot


def test_decide_then_evolve_is_what_the_service_records(on_set: OnSet) -> None:
    on_set.checked_out("R1", "D1")
    on_set.verified("D1")
    state = on_set.state
    events = decided(state, "ana", load())
    expected = fold(
        [
            Recorded(state.size + n, NOON, "ana", event.type, event.data)
            for n, event in enumerate(events)
        ],
        state,
    )
    on_set.do("ana", load())
    recorded = on_set.entries(state.size)
    assert [(e.type, e.data) for e in recorded] == [(e.type, dict(e.data)) for e in events]
    assert on_set.state.firearms == expected.firearms
    assert on_set.state.boxes == expected.boxes


def test_decide_refuses_a_plain_refusal_with_its_rule_and_no_events(on_set: OnSet) -> None:
    on_set.ready_to_hand_over()
    refusal = refused_by(on_set.state, "dave", hand_over())
    assert refusal.rule is Rule.ARMORER_ONLY
    assert refusal.events == ()
    assert refusal.message


def test_decide_takes_the_pin_failures_from_its_context(on_set: OnSet) -> None:
    on_set.loaded_with_dummies()
    command = inspect(contents=[("dummy", "D1")] * 6)
    refusal = refused_by(on_set.state, "ana", command, pin_failures=frozenset({"lee"}))
    assert refusal.rule is Rule.PIN_INVALID
    assert "lee" in refusal.message
    assert [e.type for e in decided(on_set.state, "ana", command)] == ["firearm_inspected"]


def test_decide_takes_the_admin_flag_from_its_context(on_set: OnSet) -> None:
    refusal = refused_by(on_set.state, "root", check_out("R1"), is_admin=True)
    assert refusal.rule is Rule.NOT_PERMITTED
    enrolled = decided(
        on_set.state,
        "root",
        {"type": "enroll_person", "person": "nob", "name": "Nob", "roles": ["crew"]},
        is_admin=True,
    )
    assert [e.type for e in enrolled] == ["person_enrolled"]


def test_a_refused_live_box_carries_the_incident_it_opens(on_set: OnSet) -> None:
    state = on_set.state
    refusal = refused_by(state, "ana", receive_box("L1", kind="live"))
    assert refusal.rule is Rule.LIVE_AMMUNITION_PROHIBITED
    assert [e.type for e in refusal.events] == ["incident_opened"]
    opened = refusal.events[0].data
    assert (opened["kind"], opened["critical"], opened["items"]) == ("live_round", True, ["L1"])
    assert opened["incident"]


def test_an_incident_id_is_the_index_the_incident_is_recorded_at(on_set: OnSet) -> None:
    state = on_set.state
    events = decided(state, "cal", report_live_round("D1"))
    assert [e.type for e in events] == ["live_round_reported", "incident_opened"]
    assert events[1].data["incident"] == f"INC-{state.size + 1}"
    on_set.do("cal", report_live_round("D1"))
    entry = on_set.entries(state.size + 1)[0]
    assert (entry.type, entry.data["incident"]) == ("incident_opened", f"INC-{state.size + 1}")


def test_every_incident_of_a_book_has_its_own_id(on_set: OnSet) -> None:
    on_set.attempt("ana", receive_box("L1", kind="live"))
    on_set.do("cal", report_live_round("D1"))
    on_set.attempt("ana", receive_box("L2", kind="live"))
    on_set.do("cal", report_incident("near_miss"))
    on_set.do("ana", verify_box("D1", 48))
    opened = [e.data["incident"] for e in on_set.entries() if e.type == "incident_opened"]
    assert len(opened) == 5
    assert len(set(opened)) == 5
    assert set(opened) == set(on_set.state.incidents)


def test_decide_records_who_confirmed_and_never_their_pins(on_set: OnSet) -> None:
    events = decided(on_set.state, "ana", plan_scene("S3"))
    assert events[0].data["approved_by"] == "dave"
    override = with_override(plan_scene("S4", blanks="full", min_distance_ft=5))
    applied = decided(on_set.state, "ana", override)
    assert [e.type for e in applied] == ["override_applied", "scene_planned"]
    assert applied[0].data["approvers"] == ["ana", "sam"]
    assert "pin" not in repr([e.data for e in applied])
    assert pin("dave")["pin"] not in repr(events)


# --- evolve, event by event ---


class Book:
    """Events written by hand, given their indices in order."""

    def __init__(self) -> None:
        self.events: list[Recorded] = [
            Recorded(0, NOON, "root", "book_created", {"kind": "production", "name": "Prod"})
        ]

    def add(self, event: str, /, actor: str = "ana", **data: Any) -> Book:
        self.events.append(Recorded(len(self.events), NOON, actor, event, data))
        return self

    def state(self) -> BookState:
        return fold(self.events)


def _stocked() -> Book:
    return (
        Book()
        .add(
            "location_registered",
            location="safe",
            name="Safe",
            kind="safe",
            locked=True,
            keyholders=["ana"],
        )
        .add("box_received", **_box("D1", 50))
        .add("box_received", **_box("D2", 10))
        .add(
            "firearm_received",
            firearm="R1",
            serial="SN1",
            make="Pietta",
            model="SAA",
            calibre=".45 Colt",
            kind="functional",
            chambers=6,
            label=None,
            location="safe",
            **FROM_RENTAL,
        )
        .add("day_opened", date=TODAY, sole_duty=True, counts={"D1": 50}, firearms=["R1"])
    )


FROM_RENTAL: dict[str, Any] = {"from": {"source": "rental"}}


def _box(box: str, count: int) -> dict[str, Any]:
    return {
        "box": box,
        "label": "DUMMIES",
        "kind": "dummy",
        "load": None,
        "calibre": ".45 Colt",
        "maker": "Starline",
        "maker_lot": f"LOT-{box}",
        "count": count,
        "from": {"source": "rental"},
        "location": "safe",
    }


def _verified(book: Book, box: str = "D1", count: int = 50) -> Book:
    return book.add(
        "box_verified",
        box=box,
        count=count,
        method="rattle",
        every_round=True,
        day=TODAY,
        ledger_count=count,
    )


def _inspected(book: Book, contents: list[str], witnesses: list[str]) -> Book:
    return book.add(
        "firearm_inspected",
        firearm="R1",
        purpose="pre_handover",
        chambers=[{"n": n, "content": c} for n, c in enumerate(contents, start=1)],
        bore_clear=True,
        witnesses=witnesses,
        clear=all(c == "empty" for c in contents),
    )


def test_a_received_firearm_has_every_chamber_unknown_until_inspected() -> None:
    firearm = _stocked().state().firearms["R1"]
    assert firearm.contents == (Chamber("unknown"),) * 6
    assert (firearm.intake_done, firearm.current_inspection) == (False, None)
    assert firearm.custody == Custody("location", "safe")


def test_a_box_verification_lasts_until_the_day_closes() -> None:
    book = _verified(_stocked())
    assert book.state().boxes["D1"].verified_on == TODAY
    book.add("day_closed", counts={"D1": 50})
    assert book.state().boxes["D1"].verified_on is None
    assert book.state().day is not None
    assert book.state().today is None


def test_a_verification_that_counts_otherwise_does_not_verify() -> None:
    book = _verified(_stocked())
    _verified(book, count=49)
    assert book.state().boxes["D1"].verified_on is None


def test_rounds_moved_into_a_box_end_its_verification_and_are_counted() -> None:
    book = _verified(_stocked())
    book.add("rounds_moved", count=4, to="D1", **{"from": "D2"})
    boxes = book.state().boxes
    assert boxes["D1"].verified_on is None
    assert (boxes["D1"].count, boxes["D1"].moved_in) == (54, 4)
    assert (boxes["D2"].count, boxes["D2"].moved_out) == (6, 4)


def test_loading_ties_each_round_to_its_box_and_makes_the_inspection_stale() -> None:
    book = _inspected(_verified(_stocked()).add("checked_out", item="R1"), ["empty"] * 6, [])
    assert book.state().firearms["R1"].current_inspection is not None
    book.add("firearm_loaded", firearm="R1", scene="S1", rounds=[{"chamber": 2, "box": "D1"}])
    state = book.state()
    firearm = state.firearms["R1"]
    assert firearm.contents[1] == Chamber("dummy", "D1")
    assert firearm.current_inspection is None
    assert (state.boxes["D1"].count, state.boxes["D1"].loaded_out) == (49, 1)


def test_a_hand_over_makes_the_inspection_stale_and_a_take_back_leaves_chambers_unknown() -> None:
    book = _stocked().add("checked_out", item="R1")
    book.add("firearm_loaded", firearm="R1", scene="S1", rounds=[{"chamber": 1, "box": "D1"}])
    _inspected(book, ["dummy", *["empty"] * 5], ["lee", "dave"])
    book.add("firearm_handed_over", firearm="R1", to="lee", scene="S1")
    firearm = book.state().firearms["R1"]
    assert firearm.custody == Custody("performer", "lee")
    assert firearm.current_inspection is None
    book.add("firearm_taken_back", firearm="R1", rounds_fired=0, **{"from": "lee"})
    firearm = book.state().firearms["R1"]
    assert firearm.custody == Custody("armorer", "ana")
    assert [c.content for c in firearm.contents] == ["unknown"] * 6
    assert firearm.contents[0].box == "D1"


def test_an_intake_inspection_marks_the_intake_done() -> None:
    book = _stocked().add(
        "firearm_inspected",
        firearm="R1",
        purpose="intake",
        chambers=[{"n": n, "content": "empty"} for n in range(1, 7)],
        bore_clear=True,
        witnesses=[],
        clear=True,
    )
    firearm = book.state().firearms["R1"]
    assert firearm.intake_done
    assert firearm.contents == (Chamber("empty"),) * 6


def test_a_critical_incident_freezes_until_it_is_resolved() -> None:
    book = _stocked().add(
        "incident_opened",
        incident="INC-6",
        kind="discharge",
        critical=True,
        rule=None,
        items=["R1"],
        description="bang",
    )
    frozen_by = book.state().frozen_by
    assert frozen_by is not None
    assert frozen_by.id == "INC-6"
    book.add("incident_resolved", incident="INC-6", resolution="ok", approvers=["ana", "sam"])
    assert book.state().frozen_by is None
    assert book.state().incidents["INC-6"].resolved_by == ("ana", "sam")


def test_a_minor_incident_does_not_freeze() -> None:
    book = _stocked().add(
        "incident_opened",
        incident="INC-6",
        kind="near_miss",
        critical=False,
        rule=None,
        items=[],
        description="close",
    )
    assert book.state().frozen_by is None
    assert book.state().incidents["INC-6"].open


def test_a_refusal_is_kept_in_the_state_with_its_rule_and_items() -> None:
    book = _stocked().add(
        "command_refused",
        actor="dave",
        rule="ARMORER_ONLY",
        command="hand_over",
        items=["R1", "lee", "S1"],
        message="not the armorer",
    )
    (refusal,) = book.state().refusals
    assert (refusal.rule, refusal.command, refusal.actor, refusal.items) == (
        "ARMORER_ONLY",
        "hand_over",
        "dave",
        ("R1", "lee", "S1"),
    )


def test_evidence_held_and_released_marks_and_unmarks_the_items() -> None:
    book = _stocked().add(
        "case_opened", actor="sam", case="C1", agency="Sheriff", officer="Hale", incident=None
    )
    book.add("evidence_held", actor="sam", case="C1", items=["R1", "D1"])
    state = book.state()
    assert state.firearms["R1"].evidence == {"C1"}
    assert state.boxes["D1"].evidence == {"C1"}
    assert state.cases["C1"].items == {"R1", "D1"}
    book.add("evidence_released", actor="sam", case="C1", items=["D1"])
    state = book.state()
    assert state.boxes["D1"].evidence == frozenset()
    assert state.firearms["R1"].evidence == {"C1"}


def test_a_pause_and_a_resume_are_kept_in_the_days_record() -> None:
    book = _stocked().add("day_paused", reason="lunch").add("day_resumed")
    state = book.state()
    assert state.day is not None
    assert not state.day.paused
    assert [p["paused"] for p in state.days[TODAY]["pauses"]] == [True, False]
    assert state.day_is_working
