"""Every role against every command (SPEC §2 and §4.2), through the HTTP API.

The table below is written from the specification, not from the code: who may send each command.
For each role and command the test sends one well-formed command and checks the answer's class:
- allowed: the permission checks pass (the command may still be refused by another rule, for
  example an unknown item: the point here is only who may send it);
- ARMORER_ONLY (409): an enrolled person reaching for a step reserved to armorers, recorded as
  a near miss (the *Rust* assistant director's "cold gun");
- NOT_PERMITTED (403): a role that may not send this at all (an investigator writing, an admin
  writing about firearms); the attempt is recorded in the book and in the security log;
- an account enrolled nowhere in the book gets 403 and nothing is written into the book.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import ApiNode, open_api_node, pin_of
from tests.pg_cluster import fresh_postgres_database

ARMORERS = frozenset({"armorer", "assistant_armorer"})
ROLES = (
    "armorer",
    "assistant_armorer",
    "first_ad",
    "performer",
    "safety",
    "crew",
    "supplier_agent",
    "investigator",
)
SENDERS = (*ROLES, "admin", "outsider")
EVERYONE = frozenset(ROLES) - {"investigator"}
DAY = "2026-03-02"

# SPEC §4.2: who sends each command in a production book. "armorer-step" marks the steps
# reserved to armorers (SPEC §4.1 ARMORER_ONLY); the rest name the roles that may send them.
PRODUCTION: dict[str, str | frozenset[str]] = {
    "enroll_person": ARMORERS | {"admin"},
    "record_training": ARMORERS | {"safety"},
    "register_location": "armorer-step",
    "receive_firearm": "armorer-step",
    "receive_box": "armorer-step",
    "return_to_supplier": "armorer-step",
    "open_day": "armorer-step",
    "pause_day": "armorer-step",
    "resume_day": "armorer-step",
    "close_day": "armorer-step",
    "plan_scene": "armorer-step",
    "hold_safety_meeting": frozenset({"first_ad"}),
    "check_out": "armorer-step",
    "store": "armorer-step",
    "verify_box": "armorer-step",
    "inspect": "armorer-step",
    "load": "armorer-step",
    "unload": "armorer-step",
    "hand_over": "armorer-step",
    "take_back": "armorer-step",
    "declare": "armorer-step",
    "move_rounds": "armorer-step",
    "dispose": "armorer-step",
    "refuse_to_handle": EVERYONE,
    "report_live_round": EVERYONE,
    "report_incident": EVERYONE,
    "resolve_incident": frozenset({"armorer", "safety"}),  # not the assistant (SPEC §2)
    "open_case": frozenset({"safety", "investigator"}),
    "hold_as_evidence": frozenset({"safety"}),
    "release_evidence": frozenset({"safety"}),
    "correct": ARMORERS,  # or the entry's author; entry 1 is the admin's
    "attach": EVERYONE,
}

# In a supplier book its agent plays the armorer's part for its stock (SPEC §4.2).
SUPPLIER: dict[str, str | frozenset[str]] = {
    "receive_firearm": "armorer-step",
    "inspect": "armorer-step",
    "issue": "armorer-step",
    "receive_return": "armorer-step",
}

CHAMBERS = [{"n": n, "content": "empty"} for n in (1, 2)]


FILM_SETUP: list[dict[str, Any]] = [
    {
        "type": "register_location",
        "location": "safe",
        "name": "Safe",
        "kind": "safe",
        "locked": True,
        "keyholders": ["armorer"],
    },
    {
        "type": "receive_firearm",
        "firearm": "F1",
        "serial": "SN-1",
        "make": "Colt",
        "model": "SAA",
        "calibre": ".45 LC",
        "kind": "functional",
        "chambers": 2,
        "from": {"source": "owned by the armorer"},
        "location": "safe",
    },
    *(
        {
            "type": "receive_box",
            "box": box,
            "label": "dummies",
            "kind": "dummy",
            "calibre": ".45 LC",
            "maker": "Starline",
            "maker_lot": "L1",
            "count": 10,
            "from": {"source": "owned by the armorer"},
            "location": "safe",
        }
        for box in ("B1", "B2")
    ),
    {
        "type": "plan_scene",
        "scene": "S1",
        "date": DAY,
        "title": "Scene one",
        "firearms": ["F1"],
        "performers": ["performer"],
        "blanks": None,
        "muzzle_toward_person": False,
        "approved_by": {"person": "first_ad", "pin": pin_of("first_ad")},
    },
    {"type": "report_incident", "kind": "near_miss", "description": "trip", "items": []},
]


def sample(kind: str, sender: str, notes: dict[str, Any]) -> dict[str, Any]:
    """A well-formed command of this type; new ids carry the sender's name."""
    me = sender.replace("_", "-")
    commands: dict[str, dict[str, Any]] = {
        "enroll_person": {"person": f"new-{me}", "name": "New Person", "roles": ["crew"]},
        "record_training": {"person": "performer", "course": "Safety", "completed_on": DAY},
        "register_location": {
            "location": f"cart-{me}",
            "name": "Cart",
            "kind": "cart",
            "locked": False,
            "keyholders": [],
        },
        "receive_firearm": {
            "firearm": f"F-{me}",
            "serial": f"SN-{me}",
            "make": "Colt",
            "model": "SAA",
            "calibre": ".45 LC",
            "kind": "functional",
            "chambers": 2,
            "from": {"source": "owned by the armorer"},
            "location": "safe",
        },
        "receive_box": {
            "box": f"B-{me}",
            "label": "dummies",
            "kind": "dummy",
            "calibre": ".45 LC",
            "maker": "Starline",
            "maker_lot": "L1",
            "count": 10,
            "from": {"source": "owned by the armorer"},
            "location": "safe",
        },
        "return_to_supplier": {"item": "F1", "to": "rental"},
        "open_day": {"date": DAY, "sole_duty": True, "counts": {}, "firearms": []},
        "pause_day": {"reason": "lunch"},
        "resume_day": {},
        "close_day": {"counts": {}},
        "plan_scene": {
            "scene": f"S-{me}",
            "date": DAY,
            "title": "Scene",
            "firearms": [],
            "performers": [],
            "blanks": None,
            "muzzle_toward_person": False,
            "approved_by": {"person": "first_ad", "pin": pin_of("first_ad")},
        },
        "hold_safety_meeting": {
            "scene": "S1",
            "attendees": ["armorer"],
            "topics": ["action", "abort"],
        },
        "check_out": {"item": "F1", "from": "safe"},
        "store": {"item": "F1", "location": "safe"},
        "verify_box": {"box": "B1", "count": 10, "method": "rattle", "every_round": True},
        "inspect": {"firearm": "F1", "purpose": "daily", "chambers": CHAMBERS, "bore_clear": True},
        "load": {"firearm": "F1", "scene": "S1", "rounds": [{"chamber": 1, "box": "B1"}]},
        "unload": {"firearm": "F1", "rounds": [{"chamber": 1, "to": "spent"}]},
        "hand_over": {"firearm": "F1", "to": "performer", "scene": "S1"},
        "take_back": {"firearm": "F1", "from": "performer", "rounds_fired": 0},
        "declare": {"scene": "S1", "status": "cold", "firearms": ["F1"]},
        "move_rounds": {"from": "B1", "to": "B2", "count": 1},
        "dispose": {"box": "B1", "count": 1, "reason": "damaged"},
        "refuse_to_handle": {"firearm": "F1", "reason": "I was not shown it is clear"},
        "report_live_round": {"where": {"box": "nowhere"}, "description": "a primer"},
        "report_incident": {"kind": "unsafe_act", "description": "muzzle sweep", "items": []},
        "resolve_incident": {
            "incident": "INC-15",  # the near miss of FILM_SETUP
            "resolution": "talked through",
            "approvals": [
                {"person": "armorer", "pin": pin_of("armorer")},
                {"person": "safety", "pin": pin_of("safety")},
            ],
        },
        "open_case": {"case": f"C-{me}", "agency": "Sheriff", "officer": "Deputy"},
        "hold_as_evidence": {"case": "C1", "items": ["F1"]},
        "release_evidence": {"case": "C1", "items": ["F1"]},
        "correct": {"entry": 1, "reason": "spelling", "fields": {"name": "Armorer"}},
        "attach": {
            "subject": "armorer",
            "name": "permit.pdf",
            "media_type": "application/pdf",
            "sha256": "0" * 64,
        },
        "issue": {
            "item": "F1",
            "to": "film",
            "inspection": {"chambers": CHAMBERS, "bore_clear": True},
        },
        "receive_return": {
            "item": "F1",
            "from": {"book": "film", "index": notes.get("return", 1)},
            "inspection": {"chambers": CHAMBERS, "bore_clear": True},
        },
    }
    return {"type": kind, **commands[kind]}


def expected(table: dict[str, str | frozenset[str]], kind: str, sender: str) -> str:
    allowed = table[kind]
    if sender == "outsider":
        return "forbidden"
    if allowed == "armorer-step":
        if sender in ARMORERS or (table is SUPPLIER and sender == "supplier_agent"):
            return "allowed"
        return "forbidden" if sender in ("investigator", "admin") else "armorer-only"
    return "allowed" if sender in allowed else "forbidden"


def node_with_crew(data_dir: Path, url: str) -> Iterator[ApiNode]:
    for node in open_api_node(data_dir, url):
        for sender in SENDERS:
            node.add_user(sender, admin=sender == "admin")
        for book, kind in (("film", "production"), ("rental", "supplier")):
            created = node.post("root", "/books", json={"book": book, "kind": kind, "name": book})
            assert created.status_code == 201, created.text
            for role in ROLES:
                node.ok(
                    book,
                    "root",
                    {"type": "enroll_person", "person": role, "name": role, "roles": [role]},
                )
        # What the commands name must exist, or UNKNOWN_ITEM would answer before the roles do.
        for command in FILM_SETUP:
            node.ok("film", "armorer", command)
        node.ok(
            "film",
            "safety",
            {"type": "open_case", "case": "C1", "agency": "Sheriff", "officer": "Deputy"},
        )
        for command in FILM_SETUP[:2]:
            node.ok("rental", "supplier_agent", command)
        # A firearm issued by the rental house and sent back: what receive_return names.
        inspection = {"chambers": CHAMBERS, "bore_clear": True}
        issued = node.ok(
            "rental",
            "supplier_agent",
            {"type": "issue", "item": "F1", "to": "film", "inspection": inspection},
        )
        received = {**FILM_SETUP[1], "firearm": "F9", "serial": "SN-1", "location": "safe"}
        received["from"] = {"book": "rental", "index": issued["events"][0]["index"]}
        node.ok("film", "armorer", received)
        node.ok(
            "film",
            "armorer",
            {"type": "inspect", "firearm": "F9", "purpose": "before_return", **inspection},
        )
        returned = node.ok(
            "film", "armorer", {"type": "return_to_supplier", "item": "F9", "to": "rental"}
        )
        node.notes["return"] = returned["events"][0]["index"]
        yield node


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def crew(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiNode]:
    """One node per backend with a person in every role of both books, for the whole matrix."""
    data_dir = tmp_path_factory.mktemp("matrix")
    if request.param == "sqlite":
        yield from node_with_crew(data_dir, f"sqlite:///{data_dir / 'armory.db'}")
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    with fresh_postgres_database(admin_url) as url:
        yield from node_with_crew(data_dir, url)


def check(crew: ApiNode, book: str, kind: str, sender: str, outcome: str) -> None:
    before = crew.size(book)
    answer = crew.send(book, sender, sample(kind, sender, crew.notes))
    body = answer.json()
    said = f"{sender} sending {kind}: {answer.status_code} {json.dumps(body)}"
    if outcome == "allowed":
        assert answer.status_code in (201, 409, 422), said
        assert body.get("rule") not in ("NOT_PERMITTED", "ARMORER_ONLY"), said
    elif outcome == "armorer-only":
        assert answer.status_code == 409, said
        assert body["rule"] == "ARMORER_ONLY", said
        assert crew.size(book) == before + 1  # the attempt is in the ledger
    else:
        assert answer.status_code == 403, said
        if sender == "outsider":
            assert crew.size(book) == before, "nothing may be written by a stranger to the book"
        else:
            assert body["rule"] == "NOT_PERMITTED", said
            assert crew.size(book) == before + 1


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize("kind", sorted(PRODUCTION))
def test_production_book(crew: ApiNode, kind: str, sender: str) -> None:
    check(crew, "film", kind, sender, expected(PRODUCTION, kind, sender))


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize("kind", sorted(SUPPLIER))
def test_supplier_book(crew: ApiNode, kind: str, sender: str) -> None:
    check(crew, "rental", kind, sender, expected(SUPPLIER, kind, sender))


def test_refusals_reach_the_security_log(crew: ApiNode) -> None:
    crew.send("film", "investigator", sample("inspect", "investigator", crew.notes))
    crew.send("film", "outsider", sample("report_incident", "outsider", crew.notes))
    lines = crew.get("root", "/security-log", params={"limit": 50}).json()
    kinds = {(line["kind"], line["account"]) for line in lines}
    assert ("forbidden", "investigator") in kinds
    assert ("forbidden", "outsider") in kinds
