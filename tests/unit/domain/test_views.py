"""Lists with corrections beside the originals, and the board."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from armory.domain.projections import same_state
from armory.errors import InvalidInput
from armory.ledger.entry import StoredEntry
from armory.services.commands import CommandService
from armory.services.views import Rows, board, listing
from tests.unit.domain.conftest import OnSet


def corrected_serial(on_set: OnSet) -> int:
    received = next(
        e for e in on_set.entries() if e.type == "firearm_received" and e.data["firearm"] == "R1"
    )
    on_set.do(
        "ana",
        {
            "type": "correct",
            "entry": received.index,
            "reason": "serial misread",
            "fields": {"serial": "CORRECTED-1"},
        },
    )
    return received.index


def test_originals_show_the_values_as_first_recorded(on_set: OnSet) -> None:
    corrected_serial(on_set)
    [r1] = [row for row in listing(on_set.state, "firearms", "originals") if row["id"] == "R1"]
    assert r1["serial"] != "CORRECTED-1"
    assert "corrections" not in r1


def test_corrections_alone_list_only_the_corrections(on_set: OnSet) -> None:
    entry = corrected_serial(on_set)
    [correction] = listing(on_set.state, "firearms", "corrections")
    assert (correction["entry"], correction["subject"], correction["fields"]) == (
        entry,
        "R1",
        {"serial": "CORRECTED-1"},
    )


def test_both_shows_the_original_and_the_corrected_value_side_by_side(on_set: OnSet) -> None:
    corrected_serial(on_set)
    [r1] = [row for row in listing(on_set.state, "firearms", "both") if row["id"] == "R1"]
    assert r1["serial"] != r1["corrected"]["serial"] == "CORRECTED-1"
    assert len(r1["corrections"]) == 1


def test_a_correction_never_changes_the_original_entry(on_set: OnSet) -> None:
    entry = corrected_serial(on_set)
    original = on_set.entries()[entry]
    assert original.data["serial"] != "CORRECTED-1"


def test_an_unknown_list_or_view_is_refused_with_the_choices(on_set: OnSet) -> None:
    with pytest.raises(InvalidInput, match="firearms"):
        listing(on_set.state, "guns")
    with pytest.raises(InvalidInput, match="originals"):
        listing(on_set.state, "firearms", "latest")


def test_the_board_shows_the_freeze_and_every_firearm_and_box(on_set: OnSet) -> None:
    on_set.do(
        "lee",
        {
            "type": "report_live_round",
            "where": {"box": "D1"},
            "description": "a live round among the dummies",
        },
    )
    view = board(on_set.state, on_set.book)
    assert view["frozen"] is not None
    assert {f["firearm"] for f in view["firearms"]} == set(on_set.state.firearms)
    assert {b["box"] for b in view["boxes"]} == set(on_set.state.boxes)


def test_a_new_process_reads_a_book_from_its_projections_not_from_its_first_entry(
    on_set: OnSet,
) -> None:
    """A server started on a long book answers its first read from the stored projections and
    folds only what they lack; it never replays the book from entry 0."""
    fresh = CommandService(on_set.ledger, on_set.accounts)
    read_from: list[int] = []
    entries = on_set.store.entries

    def recording(book: str, start: int, end: int) -> Iterator[StoredEntry]:
        read_from.append(start)
        return entries(book, start, end)

    on_set.store.entries = recording  # type: ignore[method-assign]
    state = fresh.state(on_set.book)
    assert 0 not in read_from
    assert state.size == on_set.ledger.store.size(on_set.book)
    assert same_state(state, on_set.service.replay(on_set.book))


def test_rows_are_made_again_only_for_the_items_that_changed() -> None:
    made: list[str] = []

    def make(item: dict[str, str]) -> dict[str, str]:
        made.append(item["id"])
        return {"row": item["id"]}

    rows = Rows(make)
    a, b, c = {"id": "a"}, {"id": "b"}, {"id": "c"}
    first = rows("film", {"b": b, "a": a})
    assert first == [{"row": "a"}, {"row": "b"}]  # in the order of the keys
    assert made == ["a", "b"]
    b2 = {"id": "b"}  # equal, but another item: a command changed it
    second = rows("film", {"a": a, "b": b2, "c": c})
    assert made == ["a", "b", "b", "c"]
    assert second[0] is first[0]
    # Only the book's last rows are kept: the first b is forgotten, another book has its own.
    rows("film", {"b": b})
    rows("other", {"a": a})
    assert made == ["a", "b", "b", "c", "b", "a"]


def test_a_list_made_again_after_a_change_equals_one_made_afresh(on_set: OnSet) -> None:
    before = listing(on_set.state, "firearms", "both", on_set.book)
    corrected_serial(on_set)
    after = listing(on_set.state, "firearms", "both", on_set.book)
    assert after != before
    assert after == listing(on_set.state, "firearms", "both")  # another key: made afresh
    assert board(on_set.state, on_set.book) == board(on_set.state, "") | {"book": on_set.book}
