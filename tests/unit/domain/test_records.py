"""The state's records are copied by evolve without calling their classes again: that holds only
while they stay plain frozen dataclasses, which these tests keep true. And the walk that finds
the items an event names, which reads the same plain data."""

from __future__ import annotations

import dataclasses
import inspect
from types import MappingProxyType

import pytest

from armory.domain import state
from armory.domain.evolve import _with
from armory.domain.projections import named_items
from armory.domain.schema import Date

RECORDS = [
    cls
    for _name, cls in inspect.getmembers(state, inspect.isclass)
    if dataclasses.is_dataclass(cls) and cls.__module__ == state.__name__
]


def test_the_state_has_records_to_check() -> None:
    assert {state.BookState, state.Firearm, state.Box} <= set(RECORDS)
    assert len(RECORDS) >= 10


@pytest.mark.parametrize("record", RECORDS, ids=lambda cls: cls.__name__)
def test_every_record_is_a_plain_frozen_dataclass(record: type) -> None:
    assert record.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert not hasattr(record, "__post_init__"), "evolve's copies would skip __post_init__"
    assert not hasattr(record, "__slots__"), "evolve's copies go through __dict__"


def test_a_copy_with_changes_equals_dataclasses_replace_and_leaves_the_original() -> None:
    before = state.BookState(kind="supplier", size=3)
    after = _with(before, size=4, day=None)
    assert after == dataclasses.replace(before, size=4, day=None)
    assert type(after) is state.BookState
    assert (before.size, after.size, after.kind) == (3, 4, "supplier")
    with pytest.raises(dataclasses.FrozenInstanceError):
        after.size = 5  # type: ignore[misc]


def test_a_copy_refuses_a_field_the_record_does_not_have() -> None:
    with pytest.raises(TypeError, match="BookState has no field \\['sise'\\]"):
        _with(state.BookState(), sise=4)


def test_the_items_an_event_names_are_found_in_plain_json_and_in_other_mappings() -> None:
    plain = {
        "firearm": "R1",
        "rounds": [{"chamber": 1, "box": "D1"}, {"chamber": 2, "box": "D1"}],
        "from": {"book": "rental", "index": 7},
        "counts": {"D2": 50, "B1": 12},
        "note": "R9 is not an item field",
    }
    assert named_items(plain) == ["R1", "D1", "rental#7", "D2", "B1"]
    # The same data as a read-only mapping, tuples and a str subclass: walked the same way.
    other = MappingProxyType(
        {
            "firearm": Date("R1"),
            "rounds": ({"chamber": 1, "box": "D1"}, MappingProxyType({"box": "D1"})),
            "from": MappingProxyType({"book": "rental", "index": 7}),
            "counts": MappingProxyType({"D2": 50, "B1": 12}),
            "note": "R9 is not an item field",
        }
    )
    assert named_items(other) == named_items(plain)
