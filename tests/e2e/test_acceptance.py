"""The acceptance scenarios of SPEC §10, played through the real `armory` command.

Each scenario is a folder under tests/scenarios: a `scenario.json` naming its accounts, its books
and its steps, and one JSON-lines file of commands per step, sent by one person to one book with
`armory do BOOK --as PERSON FILE`. Every command's answer is checked against the step's `expect`
list, one entry per command line:

    ok TYPE TYPE ...        accepted, recording exactly these event types, in this order
    refused RULE            refused by RULE, which recorded a `command_refused` entry
    refused RULE +incident  refused by RULE, and the refusal opened an incident

A `=name` suffix on an event type or a rule keeps that entry's ledger index under `name`. In the
command files, the string `"$name"` stands for that index (a supplier's `issue` entry, say), and
`"$incident:name"` for the id of the incident opened by the `incident_opened` entry kept as
`name`, as `armory board --json` shows it.

All four scenarios run on one node per storage backend, as four sets of books beside each other
(the accounts are the node's, shared by its books); scenario 5 tampers with a copy of that node.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import make_url

from tests.e2e.conftest import NODE_NAME, ArmoryForks, ArmoryNode, json_lines, one_line
from tests.pg_cluster import fresh_postgres_database

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
PASSWORD = "a long enough password"  # noqa: S105 -- the accounts of a throwaway node
INDEX_BITS = 40  # entries.pos = books.no << 40 | index (src/armory/adapters/sql/tables.py)


# --- Playing a scenario -----------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """What one command line must answer."""

    ok: bool
    types: tuple[str, ...] = ()  # the event types of an accepted command
    rule: str | None = None  # the rule of a refusal
    incident: bool = False  # whether the refusal opened an incident
    keep: tuple[tuple[int, str], ...] = ()  # (position among the entries, name) to remember

    @classmethod
    def parse(cls, text: str) -> Expectation:
        verdict, *words = text.split()
        keep: list[tuple[int, str]] = []
        names: list[str] = []
        incident = False
        for word in words:
            if word == "+incident":
                incident = True
                continue
            name, _, kept = word.partition("=")
            if kept:
                keep.append((len(names), kept))
            names.append(name)
        if verdict == "ok":
            assert names, f"an accepted command records at least one event: {text!r}"
            return cls(True, types=tuple(names), keep=tuple(keep))
        assert verdict == "refused", f"an expectation starts with ok or refused: {text!r}"
        assert len(names) == 1, f"a refusal names one rule: {text!r}"
        return cls(False, rule=names[0], incident=incident, keep=tuple(keep))


@dataclass(frozen=True)
class Refusal:
    """A refused command, as its answer reported it."""

    step: str
    person: str
    book: str
    rule: str
    index: int
    message: str
    command: dict[str, Any]


@dataclass
class Play:
    """One scenario played on one node: what each command answered, and the indices kept."""

    node: ArmoryNode
    name: str
    work: Path
    manifest: dict[str, Any] = field(init=False)
    kept: dict[str, int] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)
    boards: dict[str, dict[str, Any]] = field(default_factory=dict)  # taken after a step
    played: int = 0
    incidents: dict[str, str] = field(default_factory=dict)  # kept name -> incident id
    traces: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.manifest = json.loads((self.folder / "scenario.json").read_text(encoding="utf-8"))
        self.work.mkdir(parents=True, exist_ok=True)

    @property
    def folder(self) -> Path:
        return SCENARIOS / self.name

    @property
    def books(self) -> list[str]:
        return [book["book"] for book in self.manifest["books"]]

    def create_books(self) -> None:
        for book in self.manifest["books"]:
            self.node(
                "book", "create", book["book"], "--kind", book["kind"], "--name", book["name"]
            )

    def play(self, through: str | None = None) -> None:
        """Play the steps not played yet, up to and including the one whose file name starts
        with `through` (all of them when None)."""
        steps = self.manifest["steps"]
        while self.played < len(steps):
            step = steps[self.played]
            self.played += 1
            self._run(step)
            if through is not None and step["file"].startswith(through):
                return
        assert through is None, f"no step {through!r} left to play"

    def _run(self, step: dict[str, Any]) -> None:
        name, book, person = step["file"], step["book"], step["as"]
        lines = [
            line
            for line in (self.folder / name).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        expected = [Expectation.parse(text) for text in step["expect"]]
        assert len(expected) == len(lines), f"{name}: one expectation per command line"
        commands = [self._resolve(json.loads(line)) for line in lines]
        source = self.work / name
        source.write_text(
            "".join(json.dumps(command) + "\n" for command in commands), encoding="utf-8"
        )
        result = self.node("do", book, "--as", person, str(source))
        answers = json_lines(result.stdout)
        assert len(answers) == len(lines), f"{name}: one answer per command:\n{result.stdout}"
        for number, (command, want, answer) in enumerate(
            zip(commands, expected, answers, strict=True), start=1
        ):
            where = f"{self.name}/{name} line {number} ({command['type']}): {answer}"
            assert "error" not in answer, where
            if want.ok:
                assert answer["ok"] is True, where
                events = answer["events"]
                assert [event["type"] for event in events] == list(want.types), where
                indices = [event["index"] for event in events]
                assert indices == list(range(indices[0], indices[0] + len(indices))), where
                for position, kept in want.keep:
                    self.kept[kept] = indices[position]
                continue
            assert answer["ok"] is False, where
            assert answer["rule"] == want.rule, where
            assert isinstance(answer["index"], int), where
            assert isinstance(answer["message"], str), where
            assert answer["message"].strip(), where
            assert ("incident" in answer) == want.incident, where
            for _, kept in want.keep:
                self.kept[kept] = answer["index"]
            refusal = Refusal(
                name, person, book, answer["rule"], answer["index"], answer["message"], command
            )
            self.refusals.append(refusal)

    def _resolve(self, value: Any) -> Any:
        """The command with its `$name` and `$incident:name` placeholders filled in."""
        if isinstance(value, dict):
            return {key: self._resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._resolve(item) for item in value]
        if isinstance(value, str) and value.startswith("$incident:"):
            return self.incident_id(value.removeprefix("$incident:"))
        if isinstance(value, str) and value.startswith("$"):
            return self.kept[value[1:]]
        return value

    def incident_id(self, kept: str) -> str:
        """The id the server gave the incident opened at the kept index, read off the board."""
        if kept not in self.incidents:
            index = self.kept[kept]
            for book in self.books:
                for incident in self.board(book)["open_incidents"]:
                    if incident["opened_index"] == index:
                        self.incidents[kept] = incident["id"]
            assert kept in self.incidents, f"no open incident was opened at index {index}"
        return self.incidents[kept]

    def board(self, book: str) -> dict[str, Any]:
        view: dict[str, Any] = json.loads(self.node("board", book, "--json").stdout)
        return view

    def trace(self, book: str, item: str) -> dict[str, Any]:
        """`armory trace BOOK ITEM --json`, once the scenario was played to its end."""
        assert self.played == len(self.manifest["steps"])
        if (book, item) not in self.traces:
            output = self.node("trace", book, item, "--json").stdout
            self.traces[(book, item)] = json.loads(output)
        return self.traces[(book, item)]

    def rules(self, book: str | None = None) -> list[str]:
        return [r.rule for r in self.refusals if book is None or r.book == book]


@dataclass(frozen=True)
class Node:
    """A node of the module's own, on one backend, with every scenario's accounts."""

    armory: ArmoryNode
    backend: str
    admin_url: str | None  # PostgreSQL: the server's superuser URL, to clone the database
    work: Path


def create_accounts(armory: ArmoryNode) -> None:
    """Every account any scenario names, once (a person works for several books)."""
    accounts: dict[str, dict[str, Any]] = {}
    for manifest in sorted(SCENARIOS.glob("*/scenario.json")):
        for account in json.loads(manifest.read_text(encoding="utf-8"))["accounts"]:
            known = accounts.setdefault(account["user"], account)
            assert known == account, f"{manifest}: {account['user']} differs from another scenario"
    for account in accounts.values():
        admin = ["--admin"] if account.get("admin") else []
        armory(
            "user", "add", account["user"], "--name", account["name"],
            "--password", PASSWORD, "--pin", account["pin"], *admin,
        )  # fmt: skip


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ],
)
def node(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    armory_forks: ArmoryForks,
) -> Iterator[Node]:
    """`armory init` on an empty database of each backend, and every account created."""
    work = tmp_path_factory.mktemp(f"acceptance-{request.param}")
    data_dir = work / "data"
    with ExitStack() as stack:
        admin_url: str | None = None
        if request.param == "sqlite":
            url = f"sqlite:///{data_dir / 'armory.db'}"
        else:
            admin_url = request.getfixturevalue("postgres_admin_url")
            url = stack.enter_context(fresh_postgres_database(admin_url))
        armory = ArmoryNode(data_dir, url, armory_forks)
        armory("init", "--node-name", NODE_NAME)
        create_accounts(armory)
        yield Node(armory, request.param, admin_url, work)


def start(node: Node, name: str) -> Play:
    play = Play(node.armory, name, node.work / "commands" / name)
    play.create_books()
    return play


def exported_entries(node: Node, book: str, name: str) -> list[dict[str, Any]]:
    """The entries of the book, as an evidence bundle exported now carries them."""
    bundle = node.work / f"{name}.zip"
    node.armory("export", book, "-o", str(bundle))
    with zipfile.ZipFile(bundle) as zf:
        return json_lines(zf.read("entries.jsonl").decode("utf-8"))


def assert_every_refusal_recorded(node: Node, play: Play) -> None:
    """Each refusal is the `command_refused` entry at the index its answer gave, by the person
    who sent the command, naming its rule; there are no others; and every book verifies."""
    for book in play.books:
        entries = exported_entries(node, book, f"{play.name}-{book}")
        mine = [r for r in play.refusals if r.book == book]
        for refusal in mine:
            entry = entries[refusal.index]
            assert entry["index"] == refusal.index
            assert entry["type"] == "command_refused", refusal
            assert entry["actor"] == refusal.person, refusal
            assert entry["data"]["rule"] == refusal.rule, refusal
            assert entry["data"]["command"] == refusal.command["type"], refusal
        recorded = [e["index"] for e in entries if e["type"] == "command_refused"]
        assert recorded == sorted(r.index for r in mine)
        verified = node.armory("verify", "--book", book)
        assert verified.stdout.startswith(f"OK: book {book}: {len(entries)} entries")


def step_indices(view: dict[str, Any], book: str) -> set[int]:
    return {step["index"] for step in view["steps"] if step["book"] == book}


def refused_steps(view: dict[str, Any], book: str) -> dict[int, str]:
    return {
        step["index"]: step["data"]["rule"]
        for step in view["steps"]
        if step["book"] == book and step["type"] == "command_refused"
    }


# --- 1. Rust, replayed ------------------------------------------------------------------------

RUST_RULES = [
    "ARMORER_ONLY",  # the first AD hands the revolver to the lead actor
    "ARMORER_ONLY",  # the first AD declares "cold"
    "DUMMIES_NOT_VERIFIED",  # the armorer loads six dummies from the unverified box
    "PRODUCTION_FROZEN",  # a load after the live round was reported
    "PRODUCTION_FROZEN",  # a handover after the live round was reported
    "TWO_PERSON_RULE",  # resolving the incident with one approver
    "INVENTORY_REQUIRED",  # resolving it with two approvers before the inventory
]


@pytest.fixture(scope="module")
def rust(node: Node) -> Play:
    play = start(node, "1-rust")
    play.play(through="04")
    play.boards["frozen"] = play.board("rust")
    play.play()
    play.boards["end"] = play.board("rust")
    return play


def test_rust_replayed_refuses_each_unsafe_step_with_the_rule_the_spec_names(rust: Play) -> None:
    assert rust.rules() == RUST_RULES
    assert [r.step[:2] for r in rust.refusals] == ["03", "03", "04", "04", "04", "05", "05"]
    first_ad = [r for r in rust.refusals if r.person == "dan"]
    assert [r.command["type"] for r in first_ad] == ["hand_over", "declare"]
    inventory = rust.refusals[-1]
    assert "B1" in inventory.message
    assert "R1" in inventory.message


def test_rust_replayed_freezes_the_production_on_the_live_round_until_two_people_resolve_it(
    rust: Play,
) -> None:
    frozen = rust.boards["frozen"]
    assert frozen["frozen"] is not None
    (incident,) = frozen["open_incidents"]
    assert frozen["frozen"]["incident"] == incident["id"]
    assert incident["opened_index"] == rust.kept["live_round"]
    assert incident["kind"] == "live_round"
    assert incident["critical"] is True
    assert incident["items"] == ["B1"]

    end = rust.boards["end"]
    assert end["frozen"] is None
    assert end["open_incidents"] == []
    (revolver,) = end["firearms"]
    assert revolver["custody"] == {"kind": "performer", "holder": "lee"}
    (box,) = end["boxes"]
    assert box["count"] == 44


def test_rust_replayed_records_every_refusal_in_the_ledger(node: Node, rust: Play) -> None:
    assert len(rust.refusals) == len(RUST_RULES)
    assert_every_refusal_recorded(node, rust)


def test_rust_replayed_shows_the_refusals_about_the_revolver_and_the_box_in_their_traces(
    rust: Play,
) -> None:
    revolver = rust.trace("rust", "R1")
    box = rust.trace("rust", "B1")
    assert revolver["kind"] == "firearm"
    assert box["kind"] == "box"
    by_index = {r.index: r.rule for r in rust.refusals}
    loads = [r.index for r in rust.refusals if r.command["type"] == "load"]
    about_the_revolver = [r.index for r in rust.refusals if r.step[:2] in ("03", "04")]
    assert len(about_the_revolver) == 5
    assert len(loads) == 2
    revolver_refusals = refused_steps(revolver, "rust")
    box_refusals = refused_steps(box, "rust")
    for index in about_the_revolver:
        assert revolver_refusals.get(index) == by_index[index]
    for index in loads:
        assert box_refusals.get(index) == by_index[index]
    assert rust.kept["revolver_received"] in step_indices(revolver, "rust")
    assert rust.kept["handed_over"] in step_indices(revolver, "rust")
    assert rust.kept["box_received"] in step_indices(box, "rust")
    assert rust.kept["live_round"] in step_indices(box, "rust")


def test_rust_replayed_shows_the_refused_resolutions_of_the_box_incident_in_a_trace(
    rust: Play,
) -> None:
    resolutions = [r for r in rust.refusals if r.command["type"] == "resolve_incident"]
    assert [r.rule for r in resolutions] == ["TWO_PERSON_RULE", "INVENTORY_REQUIRED"]
    for item in ("B1", "R1"):
        traced = step_indices(rust.trace("rust", item), "rust")
        for refusal in resolutions:
            assert refusal.index in traced, (item, refusal)


# --- 2. The previous production -----------------------------------------------------------------


@pytest.fixture(scope="module")
def previous(node: Node) -> Play:
    play = start(node, "2-previous-production")
    play.play()
    return play


def test_previous_production_refuses_the_return_and_the_check_out_the_spec_names(
    previous: Play,
) -> None:
    assert previous.rules("prod-a") == ["RETURN_INSPECTION_REQUIRED"]
    assert previous.rules("prod-b") == ["INTAKE_INSPECTION_REQUIRED"]
    assert previous.rules("rental") == []
    (returned, checked_out) = previous.refusals
    assert returned.command == {"type": "return_to_supplier", "item": "A-REV1", "to": "rental"}
    assert checked_out.command == {"type": "check_out", "item": "B-REV1", "from": "safe"}


def test_previous_production_records_every_refusal_in_the_ledgers_of_all_three_books(
    node: Node, previous: Play
) -> None:
    assert len(previous.refusals) == 2
    assert_every_refusal_recorded(node, previous)


def test_previous_production_flags_the_dummy_found_at_return_on_the_revolver(
    previous: Play,
) -> None:
    rental = previous.board("rental")
    (stock,) = rental["firearms"]
    assert stock["custody"] == {"kind": "gone", "holder": "prod-b"}
    assert any("chamber 3" in flag for flag in stock["flags"])
    production_b = previous.board("prod-b")
    (received,) = production_b["firearms"]
    assert received["serial"] == "CO-45-118852"
    assert any("chamber 3" in flag and "prod-a" in flag for flag in received["flags"])


def test_previous_production_trace_in_b_shows_a_custody_a_clear_inspection_and_the_dummy(
    previous: Play,
) -> None:
    view = previous.trace("prod-b", "B-REV1")
    steps = {(s["book"], s["index"]): s for s in view["steps"]}
    kept = previous.kept

    custody_in_a = [
        ("firearm_received", kept["received_by_a"]),
        ("checked_out", kept["checked_out_by_a"]),
        ("stored", kept["stored_by_a"]),
        ("returned_to_supplier", kept["returned_by_a"]),
    ]
    for kind, index in custody_in_a:
        assert steps[("prod-a", index)]["type"] == kind
        assert steps[("prod-a", index)]["actor"] == "ana"
    assert refused_steps(view, "prod-a") == {
        previous.refusals[0].index: "RETURN_INSPECTION_REQUIRED"
    }

    clear = steps[("prod-a", kept["clear_inspection_by_a"])]
    assert clear["type"] == "firearm_inspected"
    assert clear["data"]["purpose"] == "before_return"
    assert clear["data"]["bore_clear"] is True
    assert [c["content"] for c in clear["data"]["chambers"]] == ["empty"] * 6

    found = steps[("rental", kept["dummy_found_at_return"])]
    assert found["type"] == "return_received"
    chambers = found["data"]["inspection"]["chambers"]
    assert [c["n"] for c in chambers if c["content"] != "empty"] == [3]
    assert chambers[2]["content"] == "dummy"

    assert steps[("rental", kept["issued_to_a"])]["type"] == "issued"
    assert steps[("rental", kept["issued_to_b"])]["type"] == "issued"
    assert steps[("prod-b", kept["received_by_b"])]["type"] == "firearm_received"
    assert refused_steps(view, "prod-b") == {
        previous.refusals[1].index: "INTAKE_INSPECTION_REQUIRED"
    }

    gaps = [g for g in view["gaps"] if g["gap"] == "round_found_at_return"]
    assert [(g["book"], g["index"]) for g in gaps] == [("rental", kept["dummy_found_at_return"])]
    assert "chamber 3" in gaps[0]["detail"]
    assert any("chamber 3" in flag for flag in view["flags"])


# --- 3. Lunch --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lunch(node: Node) -> Play:
    play = start(node, "3-lunch")
    play.play(through="02")
    play.boards["paused"] = play.board("lunch")
    play.play()
    play.boards["end"] = play.board("lunch")
    return play


def test_lunch_refuses_to_pause_while_the_box_is_on_the_cart_and_pauses_once_it_is_locked_away(
    lunch: Play,
) -> None:
    assert lunch.rules() == [
        "LOCATION_NOT_LOCKED",  # the box cannot be stored on the open cart
        "ITEMS_OUT",  # the pause, while the box is still out on the cart
        "DAY_NOT_OPEN",  # loading during the pause
        "DUMMIES_NOT_VERIFIED",  # loading after rounds were moved into the box
    ]
    items_out = lunch.refusals[1]
    assert items_out.command["type"] == "pause_day"
    assert "B1" in items_out.message
    assert "R1" not in items_out.message
    paused = lunch.boards["paused"]
    assert paused["day"]["paused"] is True
    where = {b["box"]: b["custody"] for b in paused["boxes"]}
    assert where["B1"] == {"kind": "location", "holder": "safe"}


def test_lunch_loads_from_the_box_after_lunch_without_a_new_verification(lunch: Play) -> None:
    box = lunch.trace("lunch", "B1")
    verified = [s["index"] for s in box["steps"] if s["type"] == "box_verified"]
    loaded = {s["index"]: s for s in box["steps"] if s["type"] == "firearm_loaded"}
    kept = lunch.kept
    assert len(verified) == 2
    morning, afternoon = verified
    assert morning < kept["paused"] < kept["resumed"] < kept["loaded_after_lunch"] < afternoon
    after_lunch = loaded[kept["loaded_after_lunch"]]["data"]
    assert after_lunch["firearm"] == "R1"
    assert after_lunch["rounds"] == [{"chamber": 6, "box": "B1"}]


def test_lunch_needs_a_new_verification_once_rounds_were_moved_into_the_box(lunch: Play) -> None:
    box = lunch.trace("lunch", "B1")
    verified = [s["index"] for s in box["steps"] if s["type"] == "box_verified"]
    refused = lunch.refusals[-1]
    assert refused.rule == "DUMMIES_NOT_VERIFIED"
    assert refused.command["firearm"] == "R2"
    assert refused.command["rounds"] == [{"chamber": 1, "box": "B1"}]
    assert lunch.kept["moved_into_b1"] < refused.index < verified[-1]
    assert refused_steps(box, "lunch")[refused.index] == "DUMMIES_NOT_VERIFIED"
    end = lunch.boards["end"]
    counts = {b["box"]: b["count"] for b in end["boxes"]}
    assert counts == {"B1": 47, "B2": 8}  # 50 - 6 loaded + 4 moved in - 1 loaded; 12 - 4
    assert end["day"]["open"] is False
    assert end["open_incidents"] == []


def test_lunch_records_every_refusal_in_the_ledger(node: Node, lunch: Play) -> None:
    assert len(lunch.refusals) == 4
    assert_every_refusal_recorded(node, lunch)


# --- 4. Wrap count -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wrap(node: Node) -> Play:
    play = start(node, "4-wrap-count")
    play.play(through="04")
    play.boards["wrapped"] = play.board("wrap")
    play.play(through="05")
    play.boards["day 2"] = play.board("wrap")
    play.play()
    play.boards["end"] = play.board("wrap")
    return play


def test_wrap_count_accepts_the_close_with_36_blanks_as_a_count_mismatch_incident(
    wrap: Play,
) -> None:
    wrapped = wrap.boards["wrapped"]
    assert wrapped["day"]["open"] is False
    (box,) = wrapped["boxes"]
    assert box["count"] == 38  # 50 received, 12 loaded and fired
    (incident,) = wrapped["open_incidents"]
    assert incident["opened_index"] == wrap.kept["counted_at_wrap"]
    assert incident["opened_index"] == wrap.kept["day_1_closed"] + 1
    assert incident["rule"] == "COUNT_MISMATCH"
    assert incident["kind"] == "count_mismatch"
    assert incident["critical"] is True
    assert incident["items"] == ["BL1"]
    assert wrapped["frozen"] == {"incident": incident["id"], "kind": "count_mismatch"}


def test_wrap_count_freezes_handovers_the_next_day_until_two_people_resolve_the_incidents(
    wrap: Play,
) -> None:
    assert wrap.rules() == ["PRODUCTION_FROZEN", "TWO_PERSON_RULE"]
    frozen, one_person = wrap.refusals
    assert frozen.command["type"] == "hand_over"
    assert one_person.command["type"] == "resolve_incident"
    day_2 = wrap.boards["day 2"]
    assert day_2["day"]["open"] is True
    assert {i["rule"] for i in day_2["open_incidents"]} == {"COUNT_MISMATCH"}
    assert len(day_2["open_incidents"]) == 2
    end = wrap.boards["end"]
    assert end["frozen"] is None
    assert end["open_incidents"] == []
    (revolver,) = end["firearms"]
    assert revolver["custody"] == {"kind": "performer", "holder": "lee"}


def test_wrap_count_records_every_refusal_in_the_ledger(node: Node, wrap: Play) -> None:
    assert len(wrap.refusals) == 2
    assert_every_refusal_recorded(node, wrap)


# --- 5. Tampering ------------------------------------------------------------------------------


@contextmanager
def copy_of(node: Node, into: Path) -> Iterator[ArmoryNode]:
    """A node of the test's own holding a copy of `node`'s data directory and database."""
    data_dir = into / "data"
    shutil.copytree(node.armory.data_dir, data_dir)
    if node.admin_url is None:
        yield replace(
            node.armory, data_dir=data_dir, database_url=f"sqlite:///{data_dir}/armory.db"
        )
        return
    source = make_url(node.armory.database_url)
    name = f"{source.database}_copy"
    admin = make_url(node.admin_url).set(drivername="postgresql")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(str(source.database))
            )
        )
    try:
        url = source.set(database=name).render_as_string(hide_password=False)
        yield replace(node.armory, data_dir=data_dir, database_url=url)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
            )


def reattribute(database_url: str, book: str, index: int, was: str, now: str) -> None:
    """Edit the database as an attacker would: switch off the append-only guard and rewrite who
    made one entry, in its JSON body; its stored hashes are left as they were."""
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("DROP TRIGGER entries_no_update")
            else:
                connection.exec_driver_sql("ALTER TABLE entries DISABLE TRIGGER USER")
            body = bytes(
                connection.execute(
                    sa.text("SELECT body FROM entry_rows WHERE book = :book AND idx = :idx"),
                    {"book": book, "idx": index},
                ).scalar_one()
            )
            edited = body.replace(f'"actor":"{was}"'.encode(), f'"actor":"{now}"'.encode())
            assert edited.count(b'"actor":') == 1
            assert edited != body
            number = connection.execute(
                sa.text("SELECT no FROM books WHERE id = :book"), {"book": book}
            ).scalar_one()
            changed = connection.execute(
                sa.text("UPDATE entries SET body = :body WHERE pos = :pos"),
                {"body": edited, "pos": (int(number) << INDEX_BITS) | index},
            )
            assert changed.rowcount == 1
    finally:
        engine.dispose()


def test_tampering_with_who_handed_the_revolver_over_is_named_by_verify_and_by_old_bundles(
    node: Node, rust: Play, tmp_path: Path
) -> None:
    handed_over = rust.kept["handed_over"]
    with copy_of(node, tmp_path) as copy:
        vkey = tmp_path / "node.vkey"
        vkey.write_text(copy("key").stdout, encoding="utf-8")
        before = tmp_path / "before.zip"
        copy("export", "rust", "-o", str(before), "--case", "RUST-1")
        with zipfile.ZipFile(before) as zf:
            entries = json_lines(zf.read("entries.jsonl").decode("utf-8"))
            (tmp_path / "before.checkpoint").write_bytes(zf.read("checkpoint"))
        assert entries[handed_over]["type"] == "firearm_handed_over"
        assert entries[handed_over]["actor"] == "ana"

        reattribute(copy.database_url, "rust", handed_over, "ana", "dan")

        failed = copy("verify", "--book", "rust", check=False)
        assert failed.returncode == 1
        assert failed.stdout == ""
        line = one_line(failed.stderr)
        assert line.startswith("FAIL: ")
        assert line.endswith(f"(first bad entry: {handed_over})")

        still = copy("verify", str(before), "--key", str(vkey))
        assert still.stdout.startswith(f"OK: {len(entries)} entries of book rust")

        after = tmp_path / "after.zip"
        exported = copy("export", "rust", "-o", str(after), check=False)
        if exported.returncode == 0:
            against = copy(
                "verify", str(after), "--key", str(vkey),
                "--checkpoint", str(tmp_path / "before.checkpoint"), check=False,
            )  # fmt: skip
            assert against.returncode == 1
            assert one_line(against.stderr).startswith("FAIL: ")
        else:
            assert one_line(exported.stderr).startswith(("armory: ", "FAIL: "))
