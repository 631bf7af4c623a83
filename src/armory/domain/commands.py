"""The commands of SPEC §4.2, as frozen dataclasses with exactly the spec's field names.

The actor is never a field: it is the authenticated person. `pin` fields are checked by the
service and never reach the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from armory.domain.schema import Date, from_json
from armory.errors import InvalidInput

Role = Literal[
    "armorer",
    "assistant_armorer",
    "first_ad",
    "performer",
    "safety",
    "crew",
    "supplier_agent",
    "investigator",
    "admin",
]
FirearmKind = Literal["functional", "blank_firing", "non_firing", "rubber"]
BoxKind = Literal["dummy", "blank", "live"]
Load = Literal["quarter", "half", "full", "specialty"]
Content = Literal["empty", "dummy", "blank", "spent", "live", "unknown"]
Purpose = Literal["intake", "pre_handover", "after_return", "daily", "before_return"]
Method = Literal["rattle", "drilled", "no_primer", "inert_marked", "crimped"]
Topic = Literal[
    "action", "deviations", "abort", "emergency", "chain_of_command", "protective_equipment"
]
IncidentKind = Literal["discharge", "misfire", "injury", "missing_item", "unsafe_act", "near_miss"]


FROM = {"json": "from"}  # metadata of a field named `from` in JSON (a Python keyword)


@dataclass(frozen=True)
class PinConfirmation:
    person: str
    pin: str


@dataclass(frozen=True)
class Override:
    reason: str
    approvals: tuple[PinConfirmation, ...]


@dataclass(frozen=True)
class LedgerRef:
    """An entry of another book: a supplier's issue, a production's return."""

    book: str
    index: int


@dataclass(frozen=True)
class Source:
    """Where an item came from when it was not issued by a supplier book: in words."""

    source: str


@dataclass(frozen=True)
class ChamberFinding:
    n: int
    content: Content
    box: str | None = None
    method: Method | None = None


@dataclass(frozen=True)
class SupplierInspection:
    chambers: tuple[ChamberFinding, ...]
    bore_clear: bool


@dataclass(frozen=True)
class RoundIn:
    chamber: int
    box: str


@dataclass(frozen=True)
class RoundOut:
    chamber: int
    to: str  # a box id, or "spent"


@dataclass(frozen=True)
class Where:
    box: str | None = None
    firearm: str | None = None
    location: str | None = None
    person: str | None = None


# --- set-up ---


@dataclass(frozen=True)
class EnrollPerson:
    person: str
    name: str
    roles: tuple[Role, ...]


@dataclass(frozen=True)
class RecordTraining:
    person: str
    course: str
    completed_on: Date
    expires_on: Date | None = None
    permit: str | None = None


@dataclass(frozen=True)
class RegisterLocation:
    location: str
    name: str
    kind: Literal["safe", "vehicle", "cart", "set", "range"]
    locked: bool
    keyholders: tuple[str, ...]


# --- receiving and returning ---


@dataclass(frozen=True)
class ReceiveFirearm:
    firearm: str
    serial: str
    make: str
    model: str
    calibre: str
    kind: FirearmKind
    chambers: int
    location: str
    from_: LedgerRef | Source = field(metadata=FROM)
    label: str | None = None


@dataclass(frozen=True)
class ReceiveBox:
    box: str
    label: str
    kind: BoxKind
    calibre: str
    maker: str
    maker_lot: str
    count: int
    location: str
    from_: LedgerRef | Source = field(metadata=FROM)
    load: Load | None = None


@dataclass(frozen=True)
class ReturnToSupplier:
    item: str
    to: str


@dataclass(frozen=True)
class Issue:
    item: str
    to: str
    inspection: SupplierInspection


@dataclass(frozen=True)
class ReceiveReturn:
    item: str
    inspection: SupplierInspection
    from_: LedgerRef = field(metadata=FROM)


# --- the day ---


@dataclass(frozen=True)
class OpenDay:
    date: Date
    sole_duty: bool
    counts: dict[str, int]
    firearms: tuple[str, ...]


@dataclass(frozen=True)
class PauseDay:
    reason: str


@dataclass(frozen=True)
class ResumeDay:
    pass


@dataclass(frozen=True)
class CloseDay:
    counts: dict[str, int]


# --- scenes and meetings ---


@dataclass(frozen=True)
class PlanScene:
    scene: str
    date: Date
    title: str
    firearms: tuple[str, ...]
    performers: tuple[str, ...]
    blanks: Load | None
    muzzle_toward_person: bool
    approved_by: PinConfirmation
    min_distance_ft: int | None = None


@dataclass(frozen=True)
class HoldSafetyMeeting:
    scene: str
    attendees: tuple[str, ...]
    topics: tuple[Topic, ...]


# --- custody and condition ---


@dataclass(frozen=True)
class CheckOut:
    item: str
    from_: str = field(metadata=FROM)


@dataclass(frozen=True)
class Store:
    item: str
    location: str


@dataclass(frozen=True)
class VerifyBox:
    box: str
    count: int
    method: Method
    every_round: bool


@dataclass(frozen=True)
class Inspect:
    firearm: str
    purpose: Purpose
    chambers: tuple[ChamberFinding, ...]
    bore_clear: bool
    witnesses: tuple[PinConfirmation, ...] = ()


@dataclass(frozen=True)
class LoadFirearm:
    firearm: str
    scene: str
    rounds: tuple[RoundIn, ...]


@dataclass(frozen=True)
class Unload:
    firearm: str
    rounds: tuple[RoundOut, ...]
    evidence_case: str | None = None


@dataclass(frozen=True)
class HandOver:
    firearm: str
    to: str
    scene: str


@dataclass(frozen=True)
class TakeBack:
    firearm: str
    from_: str = field(metadata=FROM)
    rounds_fired: int = field(default=0, metadata={"required": True})
    misfires: int | None = None


@dataclass(frozen=True)
class Declare:
    scene: str
    status: Literal["cold", "hot"]
    firearms: tuple[str, ...]
    announced_by: str | None = None


@dataclass(frozen=True)
class MoveRounds:
    to: str
    count: int
    from_: str = field(metadata=FROM)


@dataclass(frozen=True)
class Dispose:
    box: str
    count: int
    reason: str


@dataclass(frozen=True)
class RefuseToHandle:
    firearm: str
    reason: str


# --- incidents, evidence, corrections ---


@dataclass(frozen=True)
class ReportLiveRound:
    where: Where
    description: str


@dataclass(frozen=True)
class ReportIncident:
    kind: IncidentKind
    description: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class ResolveIncident:
    incident: str
    resolution: str
    approvals: tuple[PinConfirmation, ...]


@dataclass(frozen=True)
class OpenCase:
    case: str
    agency: str
    officer: str
    incident: str | None = None


@dataclass(frozen=True)
class HoldAsEvidence:
    case: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class ReleaseEvidence:
    case: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Correct:
    entry: int
    reason: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class Attach:
    subject: str
    name: str
    media_type: str
    sha256: str


Command = (
    EnrollPerson
    | RecordTraining
    | RegisterLocation
    | ReceiveFirearm
    | ReceiveBox
    | ReturnToSupplier
    | Issue
    | ReceiveReturn
    | OpenDay
    | PauseDay
    | ResumeDay
    | CloseDay
    | PlanScene
    | HoldSafetyMeeting
    | CheckOut
    | Store
    | VerifyBox
    | Inspect
    | LoadFirearm
    | Unload
    | HandOver
    | TakeBack
    | Declare
    | MoveRounds
    | Dispose
    | RefuseToHandle
    | ReportLiveRound
    | ReportIncident
    | ResolveIncident
    | OpenCase
    | HoldAsEvidence
    | ReleaseEvidence
    | Correct
    | Attach
)

COMMANDS: dict[str, type[Any]] = {
    "enroll_person": EnrollPerson,
    "record_training": RecordTraining,
    "register_location": RegisterLocation,
    "receive_firearm": ReceiveFirearm,
    "receive_box": ReceiveBox,
    "return_to_supplier": ReturnToSupplier,
    "issue": Issue,
    "receive_return": ReceiveReturn,
    "open_day": OpenDay,
    "pause_day": PauseDay,
    "resume_day": ResumeDay,
    "close_day": CloseDay,
    "plan_scene": PlanScene,
    "hold_safety_meeting": HoldSafetyMeeting,
    "check_out": CheckOut,
    "store": Store,
    "verify_box": VerifyBox,
    "inspect": Inspect,
    "load": LoadFirearm,
    "unload": Unload,
    "hand_over": HandOver,
    "take_back": TakeBack,
    "declare": Declare,
    "move_rounds": MoveRounds,
    "dispose": Dispose,
    "refuse_to_handle": RefuseToHandle,
    "report_live_round": ReportLiveRound,
    "report_incident": ReportIncident,
    "resolve_incident": ResolveIncident,
    "open_case": OpenCase,
    "hold_as_evidence": HoldAsEvidence,
    "release_evidence": ReleaseEvidence,
    "correct": Correct,
    "attach": Attach,
}
COMMAND_TYPES = {cls: name for name, cls in COMMANDS.items()}


@dataclass(frozen=True)
class Envelope:
    """A parsed command with its type name and the override it may carry."""

    type: str
    command: Any
    override: Override | None = None


def parse_command(value: object) -> Envelope:
    """Parse a command's JSON object strictly; raise InvalidInput naming what is wrong."""
    if not isinstance(value, dict):
        raise InvalidInput("a command must be a JSON object with a type")
    kind = value.get("type")
    if not isinstance(kind, str):
        raise InvalidInput('a command needs a "type" string, e.g. "inspect"')
    cls = COMMANDS.get(kind)
    if cls is None:
        raise InvalidInput(f"{kind[:64]!r} is not a command Armory knows")
    fields = {k: v for k, v in value.items() if k not in ("type", "override")}
    override = from_json(Override, value["override"], "override") if "override" in value else None
    return Envelope(kind, from_json(cls, fields), override)


def pin_confirmations(envelope: Envelope) -> list[PinConfirmation]:
    """Every person-and-PIN pair the command carries, for the service to check."""
    command = envelope.command
    found: list[PinConfirmation] = []
    if isinstance(command, Inspect):
        found.extend(command.witnesses)
    elif isinstance(command, PlanScene):
        found.append(command.approved_by)
    elif isinstance(command, ResolveIncident):
        found.extend(command.approvals)
    if envelope.override is not None:
        found.extend(envelope.override.approvals)
    return found
