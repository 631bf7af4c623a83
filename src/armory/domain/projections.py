"""Projections: a book's state as documents, one per item, for storage and for every view.

The documents are a pure function of the state, which is a pure function of the ledger, so
`armory rebuild` can always recompute them and compare (SPEC §4.3, invariant 5).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_type_hints

from armory.domain.schema import restore, to_json
from armory.domain.state import (
    BookState,
    Box,
    Case,
    Correction,
    Firearm,
    Incident,
    Location,
    Person,
    Refusal,
    Scene,
)

Key = tuple[str, str]

# Each mapping of the state is one kind of document, keyed by the item's id.
KINDS: dict[str, tuple[str, type[Any]]] = {
    "people": ("person", Person),
    "locations": ("location", Location),
    "firearms": ("firearm", Firearm),
    "boxes": ("box", Box),
    "scenes": ("scene", Scene),
    "incidents": ("incident", Incident),
    "cases": ("case", Case),
}
# Growing lists, one document per element, keyed by the ledger index it was recorded at.
SERIES: dict[str, tuple[str, type[Any]]] = {
    "refusals": ("refusal", Refusal),
    "corrections": ("correction", Correction),
}
META = ("book", "state")


def documents(state: BookState) -> dict[Key, Any]:
    """Every document of a state."""
    docs: dict[Key, Any] = {META: _meta(state)}
    for date, day in state.days.items():
        docs[("day", date)] = to_json(day)
    for attribute, (kind, _) in KINDS.items():
        for key, item in getattr(state, attribute).items():
            docs[(kind, key)] = to_json(item)
    for attribute, (kind, _) in SERIES.items():
        for item in getattr(state, attribute):
            docs[(kind, str(item.index))] = to_json(item)
    return docs


def changed_documents(old: BookState, new: BookState) -> dict[Key, Any]:
    """The documents that differ between two states (evolve replaces only what changes)."""
    docs: dict[Key, Any] = {META: _meta(new)}
    if old.days is not new.days:
        # A day's record grows with its counts: only the day that changed is written again.
        for date, day in new.days.items():
            if old.days.get(date) is not day:
                docs[("day", date)] = to_json(day)
    for attribute, (kind, _) in KINDS.items():
        before: Mapping[str, Any] = getattr(old, attribute)
        after: Mapping[str, Any] = getattr(new, attribute)
        if before is after:
            continue
        for key, item in after.items():
            if before.get(key) is not item:
                docs[(kind, key)] = to_json(item)
    for attribute, (kind, _) in SERIES.items():
        before_items: tuple[Any, ...] = getattr(old, attribute)
        for item in getattr(new, attribute)[len(before_items) :]:
            docs[(kind, str(item.index))] = to_json(item)
    return docs


def state_from_documents(docs: Mapping[Key, Any]) -> BookState:
    """The state the documents describe."""
    meta = docs.get(META)
    if meta is None:
        return BookState()
    hints = get_type_hints(BookState)
    values: dict[str, Any] = {
        "kind": meta["kind"],
        "size": meta["size"],
        "day": restore(hints["day"], meta["day"]),
        "days": {key: doc for (kind, key), doc in docs.items() if kind == "day"},
        "overrides": tuple(meta["overrides"]),
        "refused_to_handle": {
            (person, firearm): (index, day)
            for person, firearm, index, day in meta.get("refused_to_handle", [])
        },
    }
    by_kind = {kind: (attribute, cls) for attribute, (kind, cls) in KINDS.items()}
    series = {kind: (attribute, cls) for attribute, (kind, cls) in SERIES.items()}
    collected: dict[str, dict[str, Any]] = {attribute: {} for attribute in KINDS}
    listed: dict[str, list[Any]] = {attribute: [] for attribute in SERIES}
    for (kind, key), doc in docs.items():
        if kind in by_kind:
            attribute, cls = by_kind[kind]
            collected[attribute][key] = restore(cls, doc)
        elif kind in series:
            attribute, cls = series[kind]
            listed[attribute].append(restore(cls, doc))
    values.update(collected)
    values.update({k: tuple(sorted(v, key=lambda item: item.index)) for k, v in listed.items()})
    # Every document the summary counts must be there; a state missing some is not trusted.
    found = {kind: len(collected[attribute]) for attribute, (kind, _) in KINDS.items()}
    found["day"] = sum(1 for kind, _ in docs if kind == "day")
    found.update({kind: len(listed[attribute]) for attribute, (kind, _) in SERIES.items()})
    values["complete"] = meta.get("counts") == found
    return BookState(**values)


def _meta(state: BookState) -> dict[str, Any]:
    counts = {kind: len(getattr(state, attribute)) for attribute, (kind, _) in KINDS.items()}
    counts["day"] = len(state.days)
    counts.update({kind: len(getattr(state, a)) for a, (kind, _) in SERIES.items()})
    return {
        "counts": counts,
        "kind": state.kind,
        "size": state.size,
        "day": to_json(state.day),
        "overrides": list(state.overrides),
        "refused_to_handle": sorted(
            [person, firearm, index, day]
            for (person, firearm), (index, day) in state.refused_to_handle.items()
        ),
    }


def same_state(left: BookState, right: BookState) -> bool:
    """Whether two states are equal document for document (what rebuild compares)."""
    return documents(left) == documents(right)


# The fields whose values name items, people or places: what an entry is indexed under, and
# what a refusal records it named.
ITEM_FIELDS = frozenset(
    {
        "firearm",
        "box",
        "item",
        "to",
        "from",
        "scene",
        "location",
        "person",
        "incident",
        "case",
        "firearms",
        "performers",
        "attendees",
        "items",
        "subject",
        "witnesses",
        "approvals",
        "approved_by",
        "approvers",
        "evidence_case",
        "where",
        "keyholders",
        "announced_by",
        "counts",
    }
)


def named_items(value: Any, key: str | None = None) -> list[str]:
    """The ids an event's data names, in order, each once; `book#index` for a cross-book
    reference (a supplier's issue, a production's return)."""
    found: dict[str, None] = {}
    _collect(value, key, found)
    return list(found)


def _collect(value: Any, key: str | None, found: dict[str, None]) -> None:
    # Event data is plain JSON, looked at by exact type: this runs for every value of every
    # event in a rebuild.
    kind = type(value) if type(value) in _PLAIN else _walked_as(value)
    if kind is str:
        if key in ITEM_FIELDS:
            found[value] = None
    elif kind is dict:
        if key == "from" and value.keys() == {"book", "index"}:
            found[f"{value['book']}#{value['index']}"] = None
            return
        if key == "counts":
            for name in value:
                found[str(name)] = None
            return
        for name, item in value.items():
            _collect(item, name, found)
    elif kind is list or kind is tuple:
        for item in value:
            _collect(item, key, found)


_PLAIN = frozenset({int, float, bool, type(None), str, dict, list, tuple})


def _walked_as(value: Any) -> type | None:
    """A subclass, or another mapping or sequence, is walked as the plain type it stands for."""
    if isinstance(value, str):
        return str
    if isinstance(value, Mapping):
        return dict
    if isinstance(value, list | tuple):
        return list
    return None
