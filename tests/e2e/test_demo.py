"""`armory demo`: a production in the middle of a shoot, built through the rules, loaded once."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from armory.services.demo import DEMO_LOGINS
from tests.e2e.conftest import ArmoryNode


def local_today() -> date:
    return datetime.now().astimezone().date()


def book_sizes(node: ArmoryNode) -> dict[str, int]:
    rows = [line.split("\t") for line in node("book", "list").stdout.splitlines()]
    return {row[0]: int(row[2]) for row in rows}


def as_json(node: ArmoryNode, *args: str) -> Any:
    return json.loads(node(*args).stdout)


def test_the_demo_is_a_shoot_in_progress_loaded_once(armory: ArmoryNode) -> None:
    before = local_today()
    first = armory("demo")
    today = {before.isoformat(), local_today().isoformat()}  # a run across midnight
    assert f"Demo ready in {armory.data_dir}" in first.stdout
    lines = first.stdout.splitlines()
    start = next(
        n for n, line in enumerate(lines) if line.split()[:3] == ["user", "password", "PIN"]
    )
    table = lines[start + 1 : lines.index("", start)]
    assert len(table) == len(DEMO_LOGINS)
    for login in DEMO_LOGINS:
        [row] = [line for line in table if line.split(" ", 1)[0] == login.user]
        assert login.password in row.split()
        assert login.pin in row.split()
        for role in login.roles:
            assert role in row
    sizes = book_sizes(armory)
    assert set(sizes) == {"demo", "rental"}

    again = armory("demo")
    assert f"Demo already in {armory.data_dir}" in again.stdout
    assert "nothing changed" in again.stdout
    assert book_sizes(armory) == sizes

    for book in ("demo", "rental"):
        assert armory("verify", "--book", book).stdout.startswith(f"OK: book {book}:")
    # Every step went through the rules, and none was refused.
    assert as_json(armory, "list", "demo", "refusals") == []

    board = as_json(armory, "board", "demo", "--json")
    assert board["day"]["open"]
    assert not board["day"]["paused"]
    assert board["day"]["date"] in today
    assert board["frozen"] is None
    assert board["open_incidents"] == []
    assert {f["firearm"]: f["custody"] for f in board["firearms"]} == {
        firearm: {"kind": "location", "holder": "safe"} for firearm in ("R1", "P1", "X1")
    }
    kinds = {f["firearm"]: f["kind"] for f in board["firearms"]}
    assert kinds == {"R1": "functional", "P1": "functional", "X1": "non_firing"}
    verified = {b["box"]: b["verified_on"] for b in board["boxes"]}
    assert verified["D1"] in today
    assert verified["D2"] is None

    # The board shows open incidents only, and no scenes: the lists show the rest.
    [scene] = as_json(armory, "list", "demo", "scenes")
    assert (scene["id"], scene["date"] in today, scene["performers"]) == ("S1", True, ["lee"])
    assert [m["held_on"] in today and "lee" in m["attendees"] for m in scene["meetings"]] == [True]
    [incident] = as_json(armory, "list", "demo", "incidents")
    assert incident["open"] is False
    assert incident["resolved_by"] == ["ana", "sue"]

    trace = as_json(armory, "trace", "demo", "R1", "--json")
    assert trace["gaps"] == []
    steps = [(step["book"], step["type"]) for step in trace["steps"]]
    assert [s for s in steps if s[0] == "rental"] == [
        ("rental", "firearm_received"),
        ("rental", "firearm_inspected"),
        ("rental", "issued"),
    ]
    [issued] = [s for s in trace["steps"] if s["type"] == "issued"]
    [received] = [
        s for s in trace["steps"] if s["book"] == "demo" and s["type"] == "firearm_received"
    ]
    assert received["data"]["from"] == {"book": "rental", "index": issued["index"]}
    assert issued["data"]["serial"] == received["data"]["serial"]
