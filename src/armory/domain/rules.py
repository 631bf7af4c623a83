"""Rule codes (SPEC §4.1): stable names, their order of precedence, and what to do next.

When several rules would refuse one command, the refusal names the first of them in this order.
Each code comes with one plain sentence telling the person what to do to get past it.
"""

from __future__ import annotations

from enum import StrEnum


class Rule(StrEnum):
    NOT_PERMITTED = "NOT_PERMITTED"
    UNKNOWN_ITEM = "UNKNOWN_ITEM"
    PIN_INVALID = "PIN_INVALID"
    ARMORER_ONLY = "ARMORER_ONLY"
    LIVE_AMMUNITION_PROHIBITED = "LIVE_AMMUNITION_PROHIBITED"
    PRODUCTION_FROZEN = "PRODUCTION_FROZEN"
    DAY_NOT_OPEN = "DAY_NOT_OPEN"
    SOLE_DUTY_REQUIRED = "SOLE_DUTY_REQUIRED"
    NOT_A_PERFORMER = "NOT_A_PERFORMER"
    TRAINING_REQUIRED = "TRAINING_REQUIRED"
    SAFETY_MEETING_REQUIRED = "SAFETY_MEETING_REQUIRED"
    SCENE_NOT_PLANNED = "SCENE_NOT_PLANNED"
    INTAKE_INSPECTION_REQUIRED = "INTAKE_INSPECTION_REQUIRED"
    INSPECTION_REQUIRED = "INSPECTION_REQUIRED"
    WITNESS_REQUIRED = "WITNESS_REQUIRED"
    RETURN_INSPECTION_REQUIRED = "RETURN_INSPECTION_REQUIRED"
    DUMMIES_NOT_VERIFIED = "DUMMIES_NOT_VERIFIED"
    BLANKS_NOT_PLANNED = "BLANKS_NOT_PLANNED"
    BLANK_DISTANCE = "BLANK_DISTANCE"
    CALIBRE_MISMATCH = "CALIBRE_MISMATCH"
    ROUNDS_UNAVAILABLE = "ROUNDS_UNAVAILABLE"
    NOT_IN_CUSTODY = "NOT_IN_CUSTODY"
    ITEMS_OUT = "ITEMS_OUT"
    LOCATION_NOT_LOCKED = "LOCATION_NOT_LOCKED"
    COUNT_MISMATCH = "COUNT_MISMATCH"
    COLD_REQUIRES_CLEAR = "COLD_REQUIRES_CLEAR"
    TWO_PERSON_RULE = "TWO_PERSON_RULE"
    INVENTORY_REQUIRED = "INVENTORY_REQUIRED"
    EVIDENCE_HOLD = "EVIDENCE_HOLD"

    @property
    def precedence(self) -> int:
        """Position in SPEC §4.1's table: the lower refuses first."""
        return _ORDER[self]

    @property
    def overridable(self) -> bool:
        """Only the rules marked (O) may be passed with a two-person override."""
        return self in OVERRIDABLE

    @property
    def next_step(self) -> str:
        return NEXT_STEP[self]


_ORDER = {rule: position for position, rule in enumerate(Rule)}

OVERRIDABLE = frozenset({Rule.SCENE_NOT_PLANNED, Rule.BLANK_DISTANCE})

NEXT_STEP: dict[Rule, str] = {
    Rule.NOT_PERMITTED: "Ask the armorer or an admin to enroll you in this book with a role "
    "that may do this.",
    Rule.UNKNOWN_ITEM: "Check the id, or register the item in this book first.",
    Rule.PIN_INVALID: "Have the person type their own PIN again; after five wrong tries it "
    "is locked for 15 minutes.",
    Rule.ARMORER_ONLY: "Call the armorer: only the armorer or an assistant armorer may do this.",
    Rule.LIVE_AMMUNITION_PROHIBITED: "Live ammunition is never allowed in a production: stop, "
    "secure it, and follow the incident procedure.",
    Rule.PRODUCTION_FROZEN: "Work is stopped by an open critical incident: resolve it with two "
    "people first.",
    Rule.DAY_NOT_OPEN: "Open the day (or resume it after the pause) before any firearm work.",
    Rule.SOLE_DUTY_REQUIRED: "The armorer must declare they have no other duties today before "
    "opening the day.",
    Rule.NOT_A_PERFORMER: "A firearm can only be handed to a person enrolled as a performer.",
    Rule.TRAINING_REQUIRED: "Record the performer's current firearms-safety training first.",
    Rule.SAFETY_MEETING_REQUIRED: "The performer must attend today's safety meeting for this "
    "scene first.",
    Rule.SCENE_NOT_PLANNED: "Add the firearm and the performer to the scene's plan, or get an "
    "override from the armorer and the safety supervisor.",
    Rule.INTAKE_INSPECTION_REQUIRED: "Inspect the firearm on intake (purpose intake) before "
    "using it.",
    Rule.INSPECTION_REQUIRED: "Inspect every chamber again (purpose pre_handover) before it "
    "leaves your hands.",
    Rule.WITNESS_REQUIRED: "Repeat the inspection with the receiving performer and the first "
    "AD witnessing it with their PINs.",
    Rule.RETURN_INSPECTION_REQUIRED: "Inspect the firearm with purpose before_return, every "
    "chamber clear, before returning it.",
    Rule.DUMMIES_NOT_VERIFIED: "Verify the box round by round today before loading dummies "
    "from it.",
    Rule.BLANKS_NOT_PLANNED: "Load only the blanks the scene was planned with, or plan the "
    "scene with blanks.",
    Rule.BLANK_DISTANCE: "Plan at least 20 ft (6 m) for blanks, use specialty blanks, or get "
    "an override from the armorer and the safety supervisor.",
    Rule.CALIBRE_MISMATCH: "Use rounds of the firearm's own calibre.",
    Rule.ROUNDS_UNAVAILABLE: "The box holds fewer rounds than that: count it and take fewer.",
    Rule.NOT_IN_CUSTODY: "Check where the item is now: the command assumes it is somewhere else.",
    Rule.ITEMS_OUT: "Store every firearm and box in locked storage first.",
    Rule.LOCATION_NOT_LOCKED: "Use a lockable location for firearms and ammunition.",
    Rule.COUNT_MISMATCH: "The count differs from the ledger: an incident was opened; find the "
    "difference before work goes on.",
    Rule.COLD_REQUIRES_CLEAR: "Inspect the firearm with every chamber empty or verified dummy "
    "before calling it cold.",
    Rule.TWO_PERSON_RULE: "Two different people must approve with their PINs: an armorer and a "
    "safety supervisor.",
    Rule.INVENTORY_REQUIRED: "Verify every box and inspect every firearm after the report, "
    "then resolve the incident.",
    Rule.EVIDENCE_HOLD: "The item is held as evidence: the safety supervisor must release it "
    "first.",
}
