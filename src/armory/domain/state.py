"""The state of one book, as folded from its events: people, places, firearms, rounds, days,
scenes, incidents and cases. Frozen values; `evolve` makes the next state from the last."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ARMORER_ROLES = frozenset({"armorer", "assistant_armorer"})
EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True)
class Training:
    course: str
    completed_on: str
    expires_on: str | None
    permit: str | None
    index: int

    def is_current(self, today: str) -> bool:
        return self.completed_on <= today and (self.expires_on is None or today <= self.expires_on)


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    roles: frozenset[str]
    trainings: tuple[Training, ...] = ()

    def has(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    def has_current_training(self, today: str) -> bool:
        return any(training.is_current(today) for training in self.trainings)


@dataclass(frozen=True)
class Location:
    id: str
    name: str
    kind: str
    locked: bool
    keyholders: tuple[str, ...]


@dataclass(frozen=True)
class Custody:
    """Where an item is: in a `location`, held by an `armorer` or a `performer` (person id),
    or `gone` from this book (returned to, or issued to, the book named)."""

    kind: str
    holder: str


@dataclass(frozen=True)
class Chamber:
    """One place a round can be, as last known: its content and the box a round came from."""

    content: str
    box: str | None = None


@dataclass(frozen=True)
class Inspection:
    index: int
    purpose: str
    chambers: tuple[Chamber, ...]
    bore_clear: bool
    witnesses: tuple[str, ...]
    by: str
    # Every chamber empty, or a dummy from a box verified at the time: safe to call cold.
    clear: bool

    @property
    def has_unknown(self) -> bool:
        return any(chamber.content == "unknown" for chamber in self.chambers)

    @property
    def all_empty(self) -> bool:
        return self.bore_clear and all(chamber.content == "empty" for chamber in self.chambers)


@dataclass(frozen=True)
class Firearm:
    id: str
    serial: str
    make: str
    model: str
    calibre: str
    kind: str
    chambers: int
    label: str | None
    source: Mapping[str, Any]
    custody: Custody
    received_index: int
    contents: tuple[Chamber, ...]
    intake_done: bool = False
    # The last inspection, and whether it still describes the firearm: it goes stale when the
    # firearm leaves the armorer's hands or its chambers change.
    inspection: Inspection | None = None
    inspection_current: bool = False
    scene: str | None = None
    rounds_fired: int = 0
    evidence: frozenset[str] = frozenset()
    flags: tuple[str, ...] = ()

    @property
    def is_loadable(self) -> bool:
        """Loading and inspection rules apply to real and blank-firing guns only (SPEC §3)."""
        return self.kind in ("functional", "blank_firing")

    @property
    def current_inspection(self) -> Inspection | None:
        return self.inspection if self.inspection_current else None


@dataclass(frozen=True)
class Box:
    id: str
    label: str
    kind: str
    load: str | None
    calibre: str
    maker: str
    maker_lot: str
    count: int
    received: int
    source: Mapping[str, Any]
    custody: Custody
    received_index: int
    verified_on: str | None = None  # the day it was verified round by round; None when stale
    verified_index: int | None = None
    counted_index: int | None = None  # the last round-by-round count that matched, ever
    evidence: frozenset[str] = frozenset()
    loaded_out: int = 0
    unloaded_back: int = 0
    moved_out: int = 0
    moved_in: int = 0
    disposed: int = 0


@dataclass(frozen=True)
class Day:
    date: str
    open: bool
    paused: bool
    opened_by: str
    opened_index: int


@dataclass(frozen=True)
class Meeting:
    held_on: str
    attendees: frozenset[str]
    topics: tuple[str, ...]
    index: int


@dataclass(frozen=True)
class Scene:
    id: str
    date: str
    title: str
    firearms: tuple[str, ...]
    performers: tuple[str, ...]
    blanks: str | None
    min_distance_ft: int | None
    muzzle_toward_person: bool
    approved_by: str
    index: int
    meetings: tuple[Meeting, ...] = ()
    status: str | None = None  # the last declaration: cold or hot

    def attended_today(self, person: str, today: str) -> bool:
        return any(m.held_on == today and person in m.attendees for m in self.meetings)


@dataclass(frozen=True)
class Incident:
    id: str
    kind: str
    critical: bool
    open: bool
    opened_index: int
    rule: str | None
    items: tuple[str, ...]
    description: str
    resolution: str | None = None
    resolved_by: tuple[str, ...] = ()
    resolved_index: int | None = None

    @property
    def is_live_round(self) -> bool:
        return self.kind == "live_round"


@dataclass(frozen=True)
class Case:
    id: str
    agency: str
    officer: str
    incident: str | None
    opened_by: str
    index: int
    items: frozenset[str] = frozenset()
    exports: tuple[int, ...] = ()


@dataclass(frozen=True)
class Refusal:
    index: int
    rule: str
    command: str
    actor: str
    items: tuple[str, ...]
    time: str


@dataclass(frozen=True)
class Correction:
    index: int
    entry: int
    reason: str
    fields: Mapping[str, Any]
    actor: str
    subject: str | None = None  # the item the corrected entry recorded, when it names one


@dataclass(frozen=True)
class BookState:
    """Everything the rules need to know about one book, and every view shows."""

    kind: str = "production"
    size: int = 0
    people: Mapping[str, Person] = field(default_factory=dict)
    locations: Mapping[str, Location] = field(default_factory=dict)
    firearms: Mapping[str, Firearm] = field(default_factory=dict)
    boxes: Mapping[str, Box] = field(default_factory=dict)
    day: Day | None = None
    days: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    scenes: Mapping[str, Scene] = field(default_factory=dict)
    incidents: Mapping[str, Incident] = field(default_factory=dict)
    cases: Mapping[str, Case] = field(default_factory=dict)
    refusals: tuple[Refusal, ...] = ()
    corrections: tuple[Correction, ...] = ()
    overrides: tuple[int, ...] = ()
    # (person, firearm) -> (entry, day) of a refusal to handle: it stands for that day.
    refused_to_handle: Mapping[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    # False when the state was read from projection documents some of which are missing.
    complete: bool = True

    @property
    def frozen_by(self) -> Incident | None:
        """The first open critical incident, which stops loading and handing over."""
        for incident in self.incidents.values():
            if incident.open and incident.critical:
                return incident
        return None

    @property
    def today(self) -> str | None:
        return self.day.date if self.day is not None and self.day.open else None

    @property
    def day_is_working(self) -> bool:
        return self.day is not None and self.day.open and not self.day.paused

    def item_kind(self, item: str) -> str | None:
        if item in self.firearms:
            return "firearm"
        if item in self.boxes:
            return "box"
        return None

    def roles_of(self, person: str) -> frozenset[str]:
        found = self.people.get(person)
        return found.roles if found is not None else frozenset()

    def is_in_locked_storage(self, custody: Custody) -> bool:
        if custody.kind == "gone":
            return True
        location = self.locations.get(custody.holder) if custody.kind == "location" else None
        return location is not None and location.locked
