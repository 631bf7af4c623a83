"""Commands that cannot be understood: refused as InvalidInput naming the field, never recorded.

`VALID` is a minimal valid example of each of the 34 command types of SPEC §4.2 (every field in
it is required; optional fields are left out), so it doubles as a reference of the commands'
shapes. The malformed commands below go through the command service, which must raise
InvalidInput before anything reaches the book.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from armory.domain.commands import COMMANDS, Envelope, parse_command
from armory.domain.schema import MAX_TEXT, to_json
from armory.errors import InvalidInput
from tests.unit.domain.conftest import (
    TODAY,
    Command,
    OnSet,
    close_day,
    dispose,
    enroll_person,
    findings,
    hand_over,
    hold_safety_meeting,
    inspect,
    load,
    open_day,
    plan_scene,
    receive_box,
    receive_firearm,
    record_training,
    refuse_to_handle,
    report_incident,
    store,
    unload,
    verify_box,
    with_override,
)

EMPTY_CHAMBER = {"n": 1, "content": "empty"}
SUPPLIER_INSPECTION = {"chambers": [EMPTY_CHAMBER], "bore_clear": True}

VALID: dict[str, dict[str, Any]] = {
    # set-up
    "enroll_person": {"person": "lee", "name": "Lee Lead", "roles": ["performer"]},
    "record_training": {
        "person": "lee",
        "course": "Firearms safety for performers",
        "completed_on": "2026-01-10",
    },
    "register_location": {
        "location": "safe",
        "name": "Gun safe",
        "kind": "safe",
        "locked": True,
        "keyholders": ["ana"],
    },
    # receiving and returning: the supplier side too
    "receive_firearm": {
        "firearm": "R1",
        "serial": "SN-1",
        "make": "Pietta",
        "model": "1873 SAA",
        "calibre": ".45 Colt",
        "kind": "functional",
        "chambers": 6,
        "from": {"source": "bought from a collector"},
        "location": "safe",
    },
    "receive_box": {
        "box": "D1",
        "label": "45 LONG COLT DUMMIES",
        "kind": "dummy",
        "calibre": ".45 Colt",
        "maker": "Starline",
        "maker_lot": "LOT-7",
        "count": 50,
        "from": {"book": "rental", "index": 7},
        "location": "safe",
    },
    "return_to_supplier": {"item": "R1", "to": "rental"},
    "issue": {"item": "R1", "to": "prod", "inspection": SUPPLIER_INSPECTION},
    "receive_return": {
        "item": "R1",
        "from": {"book": "prod", "index": 40},
        "inspection": SUPPLIER_INSPECTION,
    },
    # the day
    "open_day": {"date": TODAY, "sole_duty": True, "counts": {"D1": 50}, "firearms": ["R1"]},
    "pause_day": {"reason": "lunch"},
    "resume_day": {},
    "close_day": {"counts": {"D1": 50}},
    # scenes and meetings
    "plan_scene": {
        "scene": "S1",
        "date": TODAY,
        "title": "The saloon",
        "firearms": ["R1"],
        "performers": ["lee"],
        "blanks": None,
        "muzzle_toward_person": False,
        "approved_by": {"person": "dave", "pin": "2718"},
    },
    "hold_safety_meeting": {"scene": "S1", "attendees": ["ana", "lee"], "topics": ["action"]},
    # custody and condition
    "check_out": {"item": "R1", "from": "safe"},
    "store": {"item": "R1", "location": "safe"},
    "verify_box": {"box": "D1", "count": 50, "method": "rattle", "every_round": True},
    "inspect": {
        "firearm": "R1",
        "purpose": "daily",
        "chambers": [EMPTY_CHAMBER],
        "bore_clear": True,
    },
    "load": {"firearm": "R1", "scene": "S1", "rounds": [{"chamber": 1, "box": "D1"}]},
    "unload": {"firearm": "R1", "rounds": [{"chamber": 1, "to": "spent"}]},
    "hand_over": {"firearm": "R1", "to": "lee", "scene": "S1"},
    "take_back": {"firearm": "R1", "from": "lee", "rounds_fired": 0},
    "declare": {"scene": "S1", "status": "cold", "firearms": ["R1"]},
    "move_rounds": {"from": "D2", "to": "D1", "count": 5},
    "dispose": {"box": "D1", "count": 1, "reason": "dented case"},
    "refuse_to_handle": {"firearm": "R1", "reason": "I do not feel safe"},
    # incidents, evidence, corrections
    "report_live_round": {"where": {"box": "D1"}, "description": "primer, no hole"},
    "report_incident": {"kind": "near_miss", "description": "muzzle swept the crew", "items": []},
    "resolve_incident": {
        "incident": "INC-12",
        "resolution": "counted and explained",
        "approvals": [{"person": "ana", "pin": "4815"}, {"person": "sam", "pin": "1414"}],
    },
    "open_case": {"case": "CASE-1", "agency": "Sheriff", "officer": "Hale"},
    "hold_as_evidence": {"case": "CASE-1", "items": ["R1"]},
    "release_evidence": {"case": "CASE-1", "items": ["R1"]},
    "correct": {"entry": 12, "reason": "serial misread", "fields": {"serial": "SN-2"}},
    "attach": {
        "subject": "R1",
        "name": "chambers.jpg",
        "media_type": "image/jpeg",
        "sha256": "ab" * 32,
    },
}


def _example(kind: str) -> Command:
    return {"type": kind, **VALID[kind]}


def test_the_table_has_a_valid_example_of_each_of_the_34_command_types() -> None:
    assert set(VALID) == set(COMMANDS)
    assert len(VALID) == 34


@pytest.mark.parametrize("kind", sorted(VALID))
def test_a_minimal_valid_command_parses(kind: str) -> None:
    envelope = parse_command(_example(kind))
    assert isinstance(envelope, Envelope)
    assert envelope.type == kind
    assert isinstance(envelope.command, COMMANDS[kind])
    assert envelope.override is None
    parsed = to_json(envelope.command)
    for name, value in VALID[kind].items():
        assert name in parsed
        if value is None or isinstance(value, str | int | bool):
            assert parsed[name] == value


REQUIRED = [(kind, name) for kind in sorted(VALID) for name in VALID[kind]]


@pytest.mark.parametrize(("kind", "field"), REQUIRED, ids=[f"{k}.{f}" for k, f in REQUIRED])
def test_every_field_of_a_minimal_command_is_required(kind: str, field: str) -> None:
    command = {k: v for k, v in _example(kind).items() if k != field}
    with pytest.raises(InvalidInput, match=rf"\b{field}\b.*required"):
        parse_command(command)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_a_field_the_command_does_not_have_is_refused(kind: str) -> None:
    with pytest.raises(InvalidInput, match="colour"):
        parse_command({**_example(kind), "colour": "red"})


def test_the_optional_fields_of_the_spec_parse_when_given() -> None:
    optional: dict[str, dict[str, Any]] = {
        "record_training": {"expires_on": "2027-01-10", "permit": "P-99"},
        "receive_firearm": {"label": "QR-R1"},
        "receive_box": {"load": None},
        "plan_scene": {"min_distance_ft": 25},
        "inspect": {"witnesses": [{"person": "lee", "pin": "3141"}]},
        "unload": {"evidence_case": "CASE-1"},
        "take_back": {"misfires": 1},
        "declare": {"announced_by": "dave"},
        "open_case": {"incident": "INC-12"},
    }
    for kind, fields in optional.items():
        parsed = to_json(parse_command({**_example(kind), **fields}).command)
        for name, value in fields.items():
            assert parsed[name] == value, (kind, name)


def test_an_override_is_parsed_beside_the_command() -> None:
    envelope = parse_command(with_override(_example("hand_over")))
    assert envelope.override is not None
    assert [a.person for a in envelope.override.approvals] == ["ana", "sam"]
    assert envelope.override.reason


# --- malformed commands through the service: InvalidInput, and nothing recorded ---

HUGE = "x" * (MAX_TEXT + 1)


def _without(command: Command, field: str) -> Command:
    return {k: v for k, v in command.items() if k != field}


def _with(command: Command, **fields: Any) -> Command:
    return {**command, **fields}


def _nested_chamber(value: Any) -> Command:
    command = load()
    command["rounds"][0]["chamber"] = value
    return command


def _approver_pin(value: Any) -> Command:
    command = plan_scene("S3")
    command["approved_by"]["pin"] = value
    return command


MALFORMED: list[tuple[str, object, str]] = [
    # (what is wrong, the command, what the message must name)
    ("unknown_type", {"type": "fire_at_will", "firearm": "R1"}, "fire_at_will"),
    ("no_type", {"firearm": "R1", "to": "lee", "scene": "S1"}, "type"),
    ("type_not_a_string", {"type": ["hand_over"]}, "type"),
    ("missing_field", _without(hand_over(), "to"), "to"),
    ("missing_required_zero_field", _without(inspect(), "bore_clear"), "bore_clear"),
    ("extra_field", _with(hand_over(), cold=True), "cold"),
    ("bool_for_int", _with(receive_firearm("R2"), chambers=True), "chambers"),
    ("bool_for_int_in_a_list", _nested_chamber(True), "rounds[0].chamber"),
    ("bool_for_a_count", _with(verify_box("D1"), count=False), "count"),
    ("float_for_int", dispose("D1", 1) | {"count": 1.5}, "count"),
    ("int_for_string", enroll_person("nob", "x", ["crew"]) | {"name": 5}, "name"),
    ("int_for_a_person", _with(hand_over(), to=7), "to"),
    ("null_for_a_required_string", _with(hand_over(), to=None), "to"),
    ("blank_string", enroll_person("nob", "   ", ["crew"]), "name"),
    ("string_for_list", enroll_person("nob", "Nob", ["crew"]) | {"roles": "crew"}, "roles"),
    ("string_for_attendees", _with(hold_safety_meeting("S1"), attendees="lee"), "attendees"),
    ("string_for_rounds", _with(load(), rounds="1:D1"), "rounds"),
    ("string_for_a_count", close_day({"D1": 50}) | {"counts": {"D1": "50"}}, "counts.D1"),
    ("huge_reason", _with(refuse_to_handle(), reason=HUGE), "reason"),
    ("huge_description", _with(report_incident("near_miss"), description=HUGE * 2), "description"),
    ("huge_id", hand_over(firearm=HUGE), "firearm"),
    ("huge_count_key", close_day({HUGE: 1}), "counts"),
    ("february_the_thirtieth", record_training("pat", completed_on="2026-02-30"), "completed_on"),
    ("day_month_year", record_training("pat", expires_on="24/11/2026"), "expires_on"),
    ("date_with_a_time", open_day("2026-11-25T09:00", {}), "date"),
    ("thirteenth_month", plan_scene("S3", date="2026-13-01"), "date"),
    ("unknown_purpose", _with(inspect(), purpose="lunch"), "purpose"),
    ("unknown_content", inspect(contents=["maybe", *["empty"] * 5]), "chambers[0].content"),
    ("unknown_blank_load", receive_box("BL2", kind="blank", load="double"), "load"),
    ("pin_as_a_number", _approver_pin(2718), "approved_by.pin"),
    ("chamber_finding_not_an_object", _with(inspect(), chambers=["empty"] * 6), "chambers[0]"),
    ("neither_ref_nor_source", receive_box("D2") | {"from": {"book": "rental"}}, "from"),
    (
        "override_without_approvals",
        hand_over() | {"override": {"reason": "x"}},
        "override.approvals",
    ),
    ("override_not_an_object", hand_over() | {"override": "yes"}, "override"),
    ("a_seventh_chamber", _with(inspect(), chambers=findings(*["empty"] * 7)), "chambers"),
    ("too_few_chambers", _with(inspect(), chambers=findings(*["empty"] * 5)), "chambers"),
    (
        "a_chamber_twice",
        _with(inspect(), chambers=[*findings(*["empty"] * 5), EMPTY_CHAMBER]),
        "chambers",
    ),
    ("loading_a_seventh_chamber", load(chambers=[7]), "chambers"),
    ("unloading_a_ninth_chamber", unload(chambers=[9]), "chamber"),
    ("a_json_list", [{"type": "hand_over"}], "JSON object"),
    ("a_json_string", "hand_over", "JSON object"),
    ("a_json_number", 42, "JSON object"),
    ("json_null", None, "JSON object"),
    ("json_true", True, "JSON object"),
]


@pytest.mark.parametrize(
    ("command", "named"), [(c, n) for _, c, n in MALFORMED], ids=[i for i, _, _ in MALFORMED]
)
def test_a_malformed_command_raises_invalid_input_naming_the_field_and_changes_nothing(
    on_set: OnSet, command: object, named: str
) -> None:
    if isinstance(command, dict) and command.get("type") in ("load", "unload"):
        on_set.loaded_with_dummies()
    before_size, before_state = on_set.size, on_set.state
    with pytest.raises(InvalidInput) as raised:
        on_set.attempt("ana", command)
    assert re.search(rf"(?<![\w.]){re.escape(named)}(?![\w.\[])", raised.value.message), (
        raised.value.message
    )
    assert on_set.size == before_size
    assert on_set.state == before_state
    assert on_set.do("ana", store("D9")).events[0]["index"] == before_size


def test_a_chamber_zero_is_named_as_a_chamber_that_does_not_exist(on_set: OnSet) -> None:
    chambers = [{"n": n, "content": "empty"} for n in range(6)]
    with pytest.raises(InvalidInput, match="chambers"):
        on_set.attempt("ana", _with(inspect(witnesses=()), chambers=chambers))


def test_malformed_commands_leave_a_ledger_that_still_verifies(on_set: OnSet) -> None:
    on_set.loaded_with_dummies()
    size = on_set.size
    for _, command, _ in MALFORMED:
        with pytest.raises(InvalidInput):
            on_set.attempt("ana", command)
    assert on_set.size == size
    report = on_set.ledger.verify_book("prod")
    assert report.size == size


def test_the_refusal_of_a_malformed_command_is_not_a_rule_refusal(on_set: OnSet) -> None:
    refusals = on_set.state.refusals
    with pytest.raises(InvalidInput):
        on_set.attempt("dave", _without(hand_over(), "scene"))
    assert on_set.state.refusals == refusals
    assert all(entry.type != "command_refused" for entry in on_set.entries())
