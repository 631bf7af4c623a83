"""`to_json` writes each dataclass, and `from_json` reads it, with a function made once per class
from its type hints. These tests hold the writing to the JSON each value describes: written out
by hand for every shape a field can have, and equal, member order included, to the type-by-type
walk (`_generic_json`) for every record and command of a production that has been through a
day's protocol. And the reading to its defaults, its required fields and its messages, which
name the path of what is wrong, also in a record that contains itself."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from armory.domain.commands import parse_command
from armory.domain.projections import KINDS, SERIES
from armory.domain.schema import Date, _generic_json, from_json, to_json
from armory.errors import InvalidInput
from tests.unit.domain.conftest import (
    OnSet,
    declare,
    hand_over,
    inspect,
    load,
    open_case,
    plan_scene,
    receive_box,
    report_incident,
    take_back,
    unload,
    with_override,
)


@dataclass(frozen=True)
class Leaf:
    name: str
    count: int = 0


@dataclass(frozen=True)
class Other:
    flag: bool


@dataclass(frozen=True)
class Shapes:
    text: str
    number: int
    ratio: float
    on: bool
    day: Date
    mode: Literal["cold", "hot"]
    leaf: Leaf
    maybe_leaf: Leaf | None
    leaves: tuple[Leaf, ...]
    names: tuple[str, ...]
    tags: frozenset[str]
    by_name: Mapping[str, Leaf]
    loose: Mapping[str, Any]
    either: Leaf | Other
    anything: Any
    from_: str = field(metadata={"json": "from"})
    note: str | None = field(default=None, metadata={"omit_none": True})
    kept_none: str | None = None


SHAPES = Shapes(
    text="R1",
    number=6,
    ratio=0.5,
    on=True,
    day=Date("2026-11-24"),
    mode="cold",
    leaf=Leaf("a", 1),
    maybe_leaf=None,
    leaves=(Leaf("b"), Leaf("c", 2)),
    names=("lee", "ana"),
    tags=frozenset({"z", "a"}),
    by_name={"k": Leaf("d")},
    loose={"nested": [Leaf("e")], "n": 1},
    either=Other(flag=False),
    anything=(Leaf("f"),),
    from_="safe",
)

EXPECTED = {
    "text": "R1",
    "number": 6,
    "ratio": 0.5,
    "on": True,
    "day": "2026-11-24",
    "mode": "cold",
    "leaf": {"name": "a", "count": 1},
    "maybe_leaf": None,
    "leaves": [{"name": "b", "count": 0}, {"name": "c", "count": 2}],
    "names": ["lee", "ana"],
    "tags": ["a", "z"],
    "by_name": {"k": {"name": "d", "count": 0}},
    "loose": {"nested": [{"name": "e", "count": 0}], "n": 1},
    "either": {"flag": False},
    "anything": [{"name": "f", "count": 0}],
    "from": "safe",
    "kept_none": None,
}


def ordered(value: Any) -> str:
    """The JSON text with members in the order they were written."""
    return json.dumps(value)


def test_every_shape_of_field_is_written_as_json() -> None:
    assert ordered(to_json(SHAPES)) == ordered(EXPECTED)
    assert ordered(_generic_json(SHAPES)) == ordered(EXPECTED)


def test_omitted_and_present_optional_fields() -> None:
    noted = Shapes(**{**SHAPES.__dict__, "note": "n", "maybe_leaf": Leaf("m")})
    written = to_json(noted)
    assert written["note"] == "n"
    assert written["maybe_leaf"] == {"name": "m", "count": 0}
    assert "note" not in to_json(SHAPES)


def test_a_none_where_the_hint_wants_a_record_is_written_as_null() -> None:
    broken = Shapes(**{**SHAPES.__dict__, "leaf": None})
    assert to_json(broken)["leaf"] is None


def test_a_day_of_protocol_is_written_as_the_walk_writes_it(on_set: OnSet) -> None:
    on_set.handed_over()
    on_set.do("ana", take_back())
    on_set.do("ana", declare(status="hot"))
    incident = on_set.do("ana", report_incident())
    assert incident.ok
    on_set.do("sam", open_case())
    state = on_set.state
    values: list[Any] = [state.day, *state.days.values()]
    for attribute in (*KINDS, *SERIES):
        items = getattr(state, attribute)
        values.extend(items.values() if isinstance(items, Mapping) else items)
    kinds = {type(value).__name__ for value in values}
    assert {"Firearm", "Box", "Person", "Scene", "Incident", "Case", "Day"} <= kinds
    for value in values:
        assert ordered(to_json(value)) == ordered(_generic_json(value)), type(value).__name__


def test_every_kind_of_command_is_written_as_the_walk_writes_it() -> None:
    written = 0
    for command in (
        inspect("R1", "pre_handover", witnesses=("lee", "dave")),
        load("R1", "S1", "D1"),
        unload("R1", "D1", evidence_case="CASE-1"),
        hand_over(),
        take_back(rounds_fired=2),
        declare(status="hot"),
        plan_scene("S3", blanks="full", min_distance_ft=25),
        receive_box("D2"),
        with_override(hand_over()),
    ):
        envelope = parse_command(command)
        for value in (envelope.command, envelope.override):
            if value is not None:
                assert ordered(to_json(value)) == ordered(_generic_json(value))
                written += 1
    assert written == 10


@dataclass(frozen=True)
class Node:
    name: str
    children: tuple[Node, ...] = ()
    marks: list[str] = field(default_factory=list)
    size: int = field(default=1, metadata={"required": True})


def test_a_record_that_contains_itself_is_read_and_a_wrong_member_is_named_by_its_path() -> None:
    value = {"name": "a", "size": 2, "children": [{"name": "b", "size": 3}]}
    read = from_json(Node, value)
    assert read == Node("a", (Node("b", size=3),), size=2)
    assert to_json(read) == {
        "name": "a",
        "children": [{"name": "b", "children": [], "marks": [], "size": 3}],
        "marks": [],
        "size": 2,
    }
    wrong = {"name": "a", "size": 2, "children": [{"name": "b", "size": 3, "colour": "red"}]}
    with pytest.raises(InvalidInput, match=r"^children\[0\]\.colour is not a field here$"):
        from_json(Node, wrong)


def test_absent_fields_take_their_defaults_and_a_field_marked_required_must_be_there() -> None:
    first, second = (
        from_json(Node, {"name": "a", "size": 1}),
        from_json(Node, {"name": "b", "size": 1}),
    )
    assert first.children == ()
    assert first.marks == []
    assert first.marks is not second.marks  # a default factory makes one each time
    with pytest.raises(InvalidInput, match=r"^children\[0\]\.size is required$"):
        from_json(Node, {"name": "a", "size": 1, "children": [{"name": "b"}]})
    with pytest.raises(InvalidInput, match=r"^the command must be a JSON object$"):
        from_json(Node, ["name"])
    with pytest.raises(InvalidInput, match=r"^children\[1\] must be a JSON object$"):
        from_json(Node, {"name": "a", "size": 1, "children": [{"name": "b", "size": 1}, 7]})
