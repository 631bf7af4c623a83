"""`to_json` writes each dataclass with a function made from its type hints. These tests hold it
to the JSON the value itself describes: written out by hand for every shape a field can have,
and equal, member order included, to the type-by-type walk (`_generic_json`) for every record
and command of a production that has been through a day's protocol."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from armory.domain.commands import parse_command
from armory.domain.projections import KINDS, SERIES
from armory.domain.schema import Date, _generic_json, to_json
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
