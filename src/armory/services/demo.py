"""The demo: a rental house and a production in the middle of a shoot, ready to be explored.

Everything is made through the command service, the way the people on set would do it: the
rental agent stocks and issues, the admin enrolls the crew, the armorer receives, inspects and
opens the day, the first AD approves the scene and holds the safety meeting, a crew member
reports a near miss and the armorer and the safety supervisor resolve it. So every rule is
checked and every step is an entry of the ledger; a command the rules refuse stops the demo
with an error, never a half-loaded book that looks complete.

What is left for the person trying the demo: the revolver R1 is in the safe, the day is open,
scene S1 is planned with a trained performer who attended its safety meeting, and box D1 of
dummies was verified round by round today. Checking R1 out, inspecting it before the handover
with the performer and the first AD witnessing (their PINs are in the logins), handing it over
and taking it back are theirs to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from armory.domain.state import BookState
from armory.errors import ArmoryError, Conflict, InvalidInput, NotFound
from armory.services.commands import CommandService, Outcome
from armory.services.ledger import LedgerService
from armory.services.ports import Account, Accounts, PinResult

DEMO_BOOK = "demo"
RENTAL_BOOK = "rental"
ADMIN = "admin"
AGENT, ARMORER, ASSISTANT, FIRST_AD, SAFETY, CREW = "rita", "ana", "ben", "dan", "sue", "cal"
TRAINED, UNTRAINED = "lee", "max"
CONFIRMING = (ARMORER, FIRST_AD, SAFETY)  # the people whose PIN the demo's commands carry
TOPICS = ("action", "deviations", "abort", "emergency", "chain_of_command", "protective_equipment")


class DemoFailed(ArmoryError):
    """A step of the demo was refused or rejected: the demo is not complete."""


@dataclass(frozen=True)
class DemoLogin:
    """One demo account: how to sign in, and what the person is in which books."""

    user: str
    name: str
    password: str
    pin: str
    roles: tuple[str, ...]
    books: tuple[str, ...]
    admin: bool = False
    note: str = ""


@dataclass(frozen=True)
class DemoBook:
    """A book of the demo, and its size when `load_demo` returned."""

    id: str
    kind: str
    name: str
    size: int


@dataclass(frozen=True)
class Demo:
    """What `load_demo` found or made."""

    created: bool  # False: the demo was already there and nothing changed
    books: tuple[DemoBook, ...]
    logins: tuple[DemoLogin, ...]
    accounts_created: tuple[str, ...] = ()
    accounts_kept: tuple[str, ...] = ()  # accounts that existed before: left as they were
    commands: int = 0  # commands run through the rules to build the books


# Demo credentials: printed by `armory demo` for anyone trying the demo, on purpose.
DEMO_LOGINS = (
    DemoLogin(
        ADMIN, "Demo administrator", "admin-demo", "9999", (), (), admin=True,
        note="creates books and accounts, enrolls people",
    ),
    DemoLogin(
        AGENT, "Rita Vance", "rental-demo", "1234", ("supplier_agent",), (RENTAL_BOOK,),
        note="rental house agent",
    ),
    DemoLogin(ARMORER, "Ana Ortiz", "armorer-demo", "1111", ("armorer",), (DEMO_BOOK,)),
    DemoLogin(
        ASSISTANT, "Ben Okafor", "assistant-demo", "5555", ("assistant_armorer",), (DEMO_BOOK,)
    ),
    DemoLogin(FIRST_AD, "Dan Hale", "first-ad-demo", "2222", ("first_ad",), (DEMO_BOOK,)),
    DemoLogin(
        TRAINED, "Lee Baird", "performer-demo", "3333", ("performer",), (DEMO_BOOK,),
        note="current firearms-safety training; in scene S1",
    ),
    DemoLogin(
        UNTRAINED, "Max Rowe", "untrained-demo", "6666", ("performer",), (DEMO_BOOK,),
        note="no training record: a handover to him is refused",
    ),
    DemoLogin(SAFETY, "Sue Park", "safety-demo", "4444", ("safety",), (DEMO_BOOK,)),
    DemoLogin(CREW, "Cal Dunn", "crew-demo", "7777", ("crew",), (DEMO_BOOK,)),
    DemoLogin(
        "ivy", "Ivy Marsh", "investigator-demo", "8888", ("investigator",),
        (DEMO_BOOK, RENTAL_BOOK), note="reads both books, writes nothing",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class _Firearm:
    """A firearm of the demo: its id at the rental house, then in the production."""

    rental_id: str
    id: str
    serial: str
    make: str
    model: str
    calibre: str
    kind: str
    chambers: int


@dataclass(frozen=True)
class _Box:
    """A box of rounds of the demo: its id at the rental house, then in the production."""

    rental_id: str
    id: str
    label: str
    kind: str
    load: str | None
    calibre: str
    maker: str
    maker_lot: str
    count: int
    method: str  # how the rental house checks it round by round


FIREARMS = (
    _Firearm(
        "RH-0421", "R1", "PT-1873-0421", "Pietta", "1873 Single Action Army revolver",
        ".45 Long Colt", "functional", 6,
    ),
    _Firearm(
        "RH-1187", "P1", "CO-1911-77310", "Colt", "M1911A1 semi-automatic pistol",
        ".45 ACP", "functional", 8,  # the chamber and a seven-round magazine
    ),
    _Firearm(
        "RH-0090", "X1", "DX-1106-0090", "Denix", "1873 revolver replica",
        ".45 Long Colt (inert)", "non_firing", 6,
    ),
)  # fmt: skip
STOCK_ONLY = _Firearm(  # stays at the rental house, so it has no production id of its own
    "RH-0307", "RH-0307", "RB-1911-0307", "Prop Foundry", "M1911 rubber stunt pistol",
    ".45 ACP (rubber)", "rubber", 1,
)  # fmt: skip
BOXES = (
    _Box(
        "RH-D45LC", "D1", "45 LONG COLT DUMMIES", "dummy", None, ".45 Long Colt",
        "Castle Dummy Co.", "CDC-45LC-2311", 50, "rattle",
    ),
    _Box(
        "RH-D45ACP", "D2", "45 ACP DUMMIES", "dummy", None, ".45 ACP",
        "Castle Dummy Co.", "CDC-45ACP-2402", 50, "drilled",
    ),
    _Box(
        "RH-B45ACP", "B1", "45 ACP HALF-LOAD BLANKS", "blank", "half", ".45 ACP",
        "Harbor Blank Works", "HBW-45H-2405", 50, "crimped",
    ),
)  # fmt: skip


def load_demo(
    ledger: LedgerService, accounts: Accounts, commands: CommandService, today: date
) -> Demo:
    """Create the demo accounts and books, with `today` as the production's open day. Run
    again where the demo book already exists, it changes nothing and says so."""
    existing = {record.id for record in ledger.books()}
    if DEMO_BOOK in existing:
        if not _is_complete(commands.state(DEMO_BOOK)):
            raise Conflict(
                f"book {DEMO_BOOK} exists but is not a complete demo (made by hand, or by a run "
                "that stopped part-way): use another --data-dir for the demo"
            )
        return Demo(False, _books(ledger), DEMO_LOGINS)
    if RENTAL_BOOK in existing:
        raise Conflict(
            f"book {RENTAL_BOOK} exists but book {DEMO_BOOK} does not: the demo needs a data "
            f"directory without a book called {RENTAL_BOOK} (use another --data-dir)"
        )
    created, kept = _add_accounts(accounts, _usable_existing_accounts(accounts, ledger))
    steps = _Steps(commands)
    issues = _stock_the_rental_house(ledger, steps, today)
    _shoot_in_progress(ledger, steps, issues, today)
    return Demo(True, _books(ledger), DEMO_LOGINS, created, kept, steps.count)


def _is_complete(state: BookState) -> bool:
    """Whether the demo book holds what the last steps of the demo made: every person enrolled,
    scene S1 planned, and an incident resolved (which stays so, whatever is done afterwards)."""
    enrolled = {login.user for login in DEMO_LOGINS if DEMO_BOOK in login.books}
    return (
        enrolled <= set(state.people)
        and "S1" in state.scenes
        and any(not incident.open for incident in state.incidents.values())
    )


def _usable_existing_accounts(accounts: Accounts, ledger: LedgerService) -> tuple[str, ...]:
    """The demo's accounts that already exist, once it is sure the demo can run with them: the
    same admin flag, and the same PIN for those who confirm a step. Checked before the demo
    writes anything, so that such an account stops it at the start, not half-way."""
    existing: list[str] = []
    problems: list[str] = []
    for login in DEMO_LOGINS:
        account = accounts.get(login.user)
        if account is None:
            continue
        existing.append(login.user)
        if account.is_admin != login.admin:
            problems.append(f"{login.user} is {'' if account.is_admin else 'not '}an admin")
        # A wrong PIN counts toward that account's lockout: one try, at most, per account.
        elif (
            login.user in CONFIRMING
            and accounts.check_pin(login.user, login.pin, ledger.clock()) != PinResult.OK
        ):
            problems.append(f"{login.user} has a PIN other than {login.pin}")
    if problems:
        raise Conflict(
            f"accounts of the demo already exist and differ: {'; '.join(problems)}. "
            "Use another --data-dir for the demo"
        )
    return tuple(existing)


def _add_accounts(
    accounts: Accounts, existing: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The demo accounts created, and those kept as they were."""
    created: list[str] = []
    kept: list[str] = []
    for login in DEMO_LOGINS:
        if login.user in existing:
            kept.append(login.user)
            continue
        try:
            accounts.add(Account(login.user, login.name, login.admin), login.password, login.pin)
        except Conflict:  # made by someone else since it was looked up: kept as well
            kept.append(login.user)
        else:
            created.append(login.user)
    return tuple(created), tuple(kept)


def _books(ledger: LedgerService) -> tuple[DemoBook, ...]:
    records = {record.id: record for record in ledger.books()}
    return tuple(
        DemoBook(book, records[book].kind, records[book].name, ledger.checkpoint(book).size)
        for book in (RENTAL_BOOK, DEMO_BOOK)
        if book in records
    )


class _Steps:
    """Runs the demo's commands; any refusal stops the demo with the rule that refused."""

    def __init__(self, commands: CommandService) -> None:
        self.commands = commands
        self.count = 0

    def run(self, book: str, actor: str, command: Mapping[str, Any]) -> Outcome:
        what = f"{command['type']} by {actor} in book {book}"
        try:
            outcome = self.commands.execute(book, actor, dict(command))
        except (InvalidInput, NotFound) as problem:
            raise DemoFailed(f"the demo stopped at {what}: {problem.message}") from None
        if not outcome.ok:
            raise DemoFailed(
                f"the demo stopped at {what}: refused {outcome.rule}: {outcome.message}"
            )
        self.count += 1
        return outcome

    def index_of(self, outcome: Outcome, kind: str) -> int:
        for event in outcome.events:
            if event["type"] == kind:
                index: int = event["index"]
                return index
        raise DemoFailed(f"the demo expected a {kind} event, and the command recorded none")


def _intake(
    firearm: _Firearm, item: str, source: Mapping[str, Any], location: str
) -> list[dict[str, Any]]:
    """Receiving a firearm as `item` into `location`, then its intake inspection."""
    return [
        {
            "type": "receive_firearm",
            "firearm": item,
            "serial": firearm.serial,
            "make": firearm.make,
            "model": firearm.model,
            "calibre": firearm.calibre,
            "kind": firearm.kind,
            "chambers": firearm.chambers,
            "label": item,
            "from": dict(source),
            "location": location,
        },
        {
            "type": "inspect",
            "firearm": item,
            "purpose": "intake",
            "chambers": _empty(firearm.chambers),
            "bore_clear": True,
        },
    ]


def _receipt(box: _Box, item: str, source: Mapping[str, Any], location: str) -> dict[str, Any]:
    """Receiving a box as `item` into `location`."""
    received: dict[str, Any] = {
        "type": "receive_box",
        "box": item,
        "label": box.label,
        "kind": box.kind,
        "calibre": box.calibre,
        "maker": box.maker,
        "maker_lot": box.maker_lot,
        "count": box.count,
        "from": dict(source),
        "location": location,
    }
    if box.load is not None:
        received["load"] = box.load
    return received


def _empty(chambers: int) -> list[dict[str, Any]]:
    return [{"n": n, "content": "empty"} for n in range(1, chambers + 1)]


def _enroll(steps: _Steps, book: str) -> None:
    for login in DEMO_LOGINS:
        if book in login.books:
            steps.run(
                book,
                ADMIN,
                {
                    "type": "enroll_person",
                    "person": login.user,
                    "name": login.name,
                    "roles": list(login.roles),
                },
            )


def _stock_the_rental_house(ledger: LedgerService, steps: _Steps, today: date) -> dict[str, int]:
    """The rental book: stock received, inspected and counted, then issued to the production.
    The index of each item's issue entry, by its rental id."""
    ledger.create_book(RENTAL_BOOK, "supplier", "Demo rental house", ADMIN)
    _enroll(steps, RENTAL_BOOK)

    def run(command: Mapping[str, Any]) -> Outcome:
        return steps.run(RENTAL_BOOK, AGENT, command)

    run(
        {
            "type": "register_location",
            "location": "vault",
            "name": "Rental house vault, aisle 3",
            "kind": "safe",
            "locked": True,
            "keyholders": [AGENT],
        }
    )
    bought = (today - timedelta(days=400)).isoformat()
    for firearm in (*FIREARMS, STOCK_ONLY):
        source = {"source": f"bought new from {firearm.make}, invoice of {bought}"}
        for command in _intake(firearm, firearm.rental_id, source, "vault"):
            run(command)
    for box in BOXES:
        source = {"source": f"bought from {box.maker}, lot {box.maker_lot}"}
        run(_receipt(box, box.rental_id, source, "vault"))
        run(
            {
                "type": "verify_box",
                "box": box.rental_id,
                "count": box.count,
                "method": box.method,
                "every_round": True,
            }
        )
    issues: dict[str, int] = {}
    for firearm in FIREARMS:
        issued = run(
            {
                "type": "issue",
                "item": firearm.rental_id,
                "to": DEMO_BOOK,
                "inspection": {"chambers": _empty(firearm.chambers), "bore_clear": True},
            }
        )
        issues[firearm.rental_id] = steps.index_of(issued, "issued")
    for box in BOXES:
        issued = run(
            {
                "type": "issue",
                "item": box.rental_id,
                "to": DEMO_BOOK,
                "inspection": {"chambers": [], "bore_clear": True},
            }
        )
        issues[box.rental_id] = steps.index_of(issued, "issued")
    return issues


def _shoot_in_progress(
    ledger: LedgerService, steps: _Steps, issues: Mapping[str, int], today: date
) -> None:
    """The production book: the crew, the kit from the rental house, yesterday's prep day,
    and today's day open with a scene planned, its meeting held and a near miss resolved."""
    ledger.create_book(DEMO_BOOK, "production", "Demo production", ADMIN)
    _enroll(steps, DEMO_BOOK)

    def run(actor: str, command: Mapping[str, Any]) -> Outcome:
        return steps.run(DEMO_BOOK, actor, command)

    pins = {login.user: login.pin for login in DEMO_LOGINS}
    run(
        ARMORER,
        {
            "type": "register_location",
            "location": "safe",
            "name": "Armory safe, truck 2",
            "kind": "safe",
            "locked": True,
            "keyholders": [ARMORER, ASSISTANT],
        },
    )
    run(
        ARMORER,
        {
            "type": "register_location",
            "location": "cart",
            "name": "Armory cart, stage 4 (working surface, not for storage)",
            "kind": "cart",
            "locked": False,
            "keyholders": [ARMORER, ASSISTANT],
        },
    )
    for firearm in FIREARMS:
        source = {"book": RENTAL_BOOK, "index": issues[firearm.rental_id]}
        for command in _intake(firearm, firearm.id, source, "safe"):
            run(ARMORER, command)
    for box in BOXES:
        source = {"book": RENTAL_BOOK, "index": issues[box.rental_id]}
        run(ARMORER, _receipt(box, box.id, source, "safe"))
    trained_on = today - timedelta(days=45)
    run(
        SAFETY,
        {
            "type": "record_training",
            "person": TRAINED,
            "course": "Firearms safety for performers (8 h)",
            "completed_on": trained_on.isoformat(),
            "expires_on": (trained_on + timedelta(days=365)).isoformat(),
            "permit": "FSP-2291",
        },
    )
    counts = {box.id: box.count for box in BOXES}
    firearms = [firearm.id for firearm in FIREARMS]

    # Yesterday, the prep day: D2 was verified (a verification ends with its day), the pistol
    # had its daily check, everything went back into the safe and was counted at the close.
    run(
        ARMORER,
        {
            "type": "open_day",
            "date": (today - timedelta(days=1)).isoformat(),
            "sole_duty": True,
            "counts": counts,
            "firearms": firearms,
        },
    )
    run(
        ASSISTANT,
        {"type": "verify_box", "box": "D2", "count": 50, "method": "drilled", "every_round": True},
    )
    run(ARMORER, {"type": "check_out", "item": "P1", "from": "safe"})
    run(
        ARMORER,
        {
            "type": "inspect",
            "firearm": "P1",
            "purpose": "daily",
            "chambers": _empty(8),
            "bore_clear": True,
        },
    )
    run(ARMORER, {"type": "store", "item": "P1", "location": "safe"})
    run(ARMORER, {"type": "close_day", "counts": counts})

    # Today: the day is open, D1 verified round by round, scene S1 planned and briefed.
    run(
        ARMORER,
        {
            "type": "open_day",
            "date": today.isoformat(),
            "sole_duty": True,
            "counts": counts,
            "firearms": firearms,
        },
    )
    run(
        ASSISTANT,
        {"type": "verify_box", "box": "D1", "count": 50, "method": "rattle", "every_round": True},
    )
    run(
        ARMORER,
        {
            "type": "plan_scene",
            "scene": "S1",
            "date": today.isoformat(),
            "title": "Saloon, sc. 42: the stranger draws (dummies, close-up)",
            "firearms": ["R1"],
            "performers": [TRAINED],
            "blanks": None,
            "muzzle_toward_person": False,
            "approved_by": {"person": FIRST_AD, "pin": pins[FIRST_AD]},
        },
    )
    reported = run(
        CREW,
        {
            "type": "report_incident",
            "kind": "near_miss",
            "description": (
                "During the walk-through a grip carried a C-stand across the taped line around "
                "the armory cart without stopping; the armorer halted the work. Nobody was hurt "
                "and no firearm was out of the safe."
            ),
            "items": [],
        },
    )
    run(
        FIRST_AD,
        {
            "type": "hold_safety_meeting",
            "scene": "S1",
            "attendees": [ARMORER, ASSISTANT, FIRST_AD, TRAINED, SAFETY, CREW],
            "topics": list(TOPICS),
        },
    )
    opened = steps.index_of(reported, "incident_opened")
    incident = next(
        found.id
        for found in steps.commands.state(DEMO_BOOK).incidents.values()
        if found.opened_index == opened
    )
    run(
        ARMORER,
        {
            "type": "resolve_incident",
            "incident": incident,
            "resolution": (
                "Line around the armory cart re-taped with a marked crossing point; the grips' "
                "route moved to the stage door, and the rule repeated at the safety meeting."
            ),
            "approvals": [
                {"person": ARMORER, "pin": pins[ARMORER]},
                {"person": SAFETY, "pin": pins[SAFETY]},
            ],
        },
    )
