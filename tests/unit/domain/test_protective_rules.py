"""Rules an armorer expects where the spec leaves the detail open (see the README's decisions)."""

from __future__ import annotations

from armory.domain.rules import Rule
from tests.unit.domain.conftest import (
    OnSet,
    check_out,
    hand_over,
    receive_box,
    refuse_to_handle,
    store,
)


def test_a_performer_who_refused_a_firearm_today_cannot_be_handed_it(on_set: OnSet) -> None:
    on_set.ready_to_hand_over()
    on_set.do("lee", refuse_to_handle("R1"))
    assert on_set.refused("ana", hand_over()) == Rule.NOT_A_PERFORMER


def test_a_refusal_to_handle_survives_a_reload_of_the_projections(on_set: OnSet) -> None:
    on_set.ready_to_hand_over()
    on_set.do("lee", refuse_to_handle("R1"))
    on_set.service._states.clear()  # as a fresh process would: state from the stored documents
    assert on_set.refused("ana", hand_over()) == Rule.NOT_A_PERFORMER


def test_the_first_ad_witness_must_be_someone_other_than_the_performer(on_set: OnSet) -> None:
    on_set.add_person("max", "Max", ["performer", "first_ad"])
    on_set.do(
        "ana",
        {
            "type": "record_training",
            "person": "max",
            "course": "Safety",
            "completed_on": "2026-01-01",
        },
    )
    plan = {
        "type": "plan_scene",
        "scene": "S9",
        "date": on_set.state.today,
        "title": "Solo",
        "firearms": ["R1"],
        "performers": ["max"],
        "blanks": None,
        "muzzle_toward_person": False,
        "approved_by": {"person": "dave", "pin": "27182818"},
    }
    on_set.do("ana", plan)
    on_set.do(
        "dave",
        {
            "type": "hold_safety_meeting",
            "scene": "S9",
            "attendees": ["ana", "max"],
            "topics": ["action"],
        },
    )
    on_set.loaded_with_dummies("R1", "S9")
    on_set.inspected("R1", [("dummy", "D1")] * 6, witnesses=["max"])
    assert on_set.refused("ana", hand_over("R1", "max", "S9")) == Rule.WITNESS_REQUIRED


def test_storing_a_firearm_makes_its_last_inspection_stale(on_set: OnSet) -> None:
    on_set.ready_to_hand_over()
    on_set.do("ana", store("R1"))
    on_set.do("ana", check_out("R1"))
    assert on_set.refused("ana", hand_over()) == Rule.INSPECTION_REQUIRED


def test_the_incident_a_refused_live_box_opens_is_named_by_its_own_index(on_set: OnSet) -> None:
    outcome = on_set.attempt("ana", receive_box("LIVE1", kind="live"))
    assert outcome.rule == Rule.LIVE_AMMUNITION_PROHIBITED
    opened = [e for e in on_set.entries() if e.type == "incident_opened"][-1]
    assert outcome.incident == opened.data["incident"] == f"INC-{opened.index}"
