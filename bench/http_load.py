"""Benchmark 7: commands and reads through HTTP, 50 concurrent clients, one server (SPEC §9).

A production is set up through the command service (forty armorers' firearms in the safe, their
performers trained, a scene planned for all of them, its safety meeting held, the day open),
then `armory serve --processes 2` is started: one server process per core of this 2-core
machine (one process: `armory serve`'s default, for a laptop on set). The load
tool, `python -m bench.loadgen` (asyncio and aiohttp, in its own process on the same machine),
signs in 50 clients and runs them for a fixed time: 40 armorers each walking their firearm
through the handover cycle and reading the board after each cycle, and 10 people reading what
they read on set. Afterwards the harness checks that every command was accepted and that the book
verifies.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2

from armory import bootstrap
from armory.adapters.sql.accounts import SqlAccounts
from armory.config import REQUEST_THREADS, Settings
from armory.services.ports import Account
from bench.common import NODE, QUICK, REPO, Row, Scale, Section, log, ms, remove, settle
from bench.postgres import Postgres
from bench.protocol import _HASHER, _PIN_HASHER

CUSTODY_CLIENTS = 40
READERS = 10
FULL_SECONDS = 20.0
QUICK_SECONDS = 4.0
WARMUP = 5.0
TARGET_RATE = 500.0
TARGET_P99_MS = 100.0
BOOK = "load"
# One server process per core: each has its own interpreter lock, and on SQLite the two take
# turns on the book through the store's lock file (adapters/sql/turns.py).
SERVER_PROCESSES = 2
PASSWORD = "load-test-password"  # noqa: S105 -- the benchmark's throwaway accounts
CHAMBERS = 6


def _empty() -> list[dict[str, Any]]:
    return [{"n": n, "content": "empty"} for n in range(1, CHAMBERS + 1)]


def _pin(n: int) -> str:
    return f"{4000 + n}"


def set_up(settings: Settings) -> dict[str, Any]:
    """The production, made through the command service; the plan the load tool follows."""
    armory = bootstrap.init(settings, NODE)
    try:
        accounts = SqlAccounts(armory.engine, _HASHER, _PIN_HASHER)
        armorers = [f"a{n:02d}" for n in range(CUSTODY_CLIENTS)]
        performers = [f"p{n:02d}" for n in range(CUSTODY_CLIENTS)]
        readers = [f"r{n:02d}" for n in range(READERS)]
        people = ["admin", "dan", *armorers, *performers, *readers]
        for n, person in enumerate(people):
            accounts.add(Account(person, person, person == "admin"), PASSWORD, _pin(n))
        pins = {person: _pin(n) for n, person in enumerate(people)}
        armory.ledger.create_book(BOOK, "production", "HTTP load", "admin")
        run = armory.commands.execute

        def ok(actor: str, command: dict[str, Any]) -> None:
            outcome = run(BOOK, actor, command)
            if not outcome.ok:
                raise SystemExit(f"set-up refused {command['type']}: {outcome.to_json()}")

        roles = {"dan": "first_ad", **dict.fromkeys(armorers, "armorer")}
        roles.update(dict.fromkeys(performers, "performer"))
        roles.update(dict.fromkeys(readers, "crew"))
        for person, role in roles.items():
            ok(
                "admin",
                {"type": "enroll_person", "person": person, "name": person, "roles": [role]},
            )
        boss = armorers[0]
        today = armory.ledger.clock().date().isoformat()
        ok(
            boss,
            {
                "type": "register_location",
                "location": "safe",
                "name": "Armory safe",
                "kind": "safe",
                "locked": True,
                "keyholders": armorers,
            },
        )
        firearms = [f"F{n:02d}" for n in range(CUSTODY_CLIENTS)]
        for n, firearm in enumerate(firearms):
            ok(
                boss,
                {
                    "type": "receive_firearm",
                    "firearm": firearm,
                    "serial": f"SN-{n:04d}",
                    "make": "Uberti",
                    "model": "1873 Cattleman",
                    "calibre": ".45 Colt",
                    "kind": "functional",
                    "chambers": CHAMBERS,
                    "from": {"source": "owned by the armorer"},
                    "location": "safe",
                },
            )
            intake = {"firearm": firearm, "purpose": "intake", "chambers": _empty()}
            ok(boss, {"type": "inspect", **intake, "bore_clear": True})
        for performer in performers:
            ok(
                boss,
                {
                    "type": "record_training",
                    "person": performer,
                    "course": "Firearms safety for performers",
                    "completed_on": today,
                },
            )
        ok(
            boss,
            {
                "type": "open_day",
                "date": today,
                "sole_duty": True,
                "counts": {},
                "firearms": firearms,
            },
        )
        ok(
            boss,
            {
                "type": "plan_scene",
                "scene": "S1",
                "date": today,
                "title": "The shoot-out, all hands",
                "firearms": firearms,
                "performers": performers,
                "blanks": None,
                "muzzle_toward_person": False,
                "approved_by": {"person": "dan", "pin": pins["dan"]},
            },
        )
        topics = ["action", "deviations", "abort", "emergency", "chain_of_command"]
        meeting = {"scene": "S1", "attendees": [boss, *performers], "topics": topics}
        ok("dan", {"type": "hold_safety_meeting", **meeting})
        custody = []
        for n, (armorer, firearm, performer) in enumerate(
            zip(armorers, firearms, performers, strict=True)
        ):
            witnesses = [
                {"person": performer, "pin": pins[performer]},
                {"person": "dan", "pin": pins["dan"]},
            ]
            cycle = [
                {"type": "check_out", "item": firearm, "from": "safe"},
                {
                    "type": "inspect",
                    "firearm": firearm,
                    "purpose": "pre_handover",
                    "chambers": _empty(),
                    "bore_clear": True,
                    "witnesses": witnesses,
                },
                {"type": "hand_over", "firearm": firearm, "to": performer, "scene": "S1"},
                {"type": "take_back", "firearm": firearm, "from": performer, "rounds_fired": 0},
                {
                    "type": "inspect",
                    "firearm": firearm,
                    "purpose": "after_return",
                    "chambers": _empty(),
                    "bore_clear": True,
                },
                {"type": "store", "item": firearm, "location": "safe"},
            ]
            custody.append({"armorer": armorer, "cycle": cycle, "n": n})
        return {"book": BOOK, "password": PASSWORD, "custody": custody, "readers": readers}
    finally:
        armory.close()


def _free_port() -> int:
    import socket  # noqa: PLC0415 -- only here

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _armory() -> list[str]:
    script = Path(sys.executable).with_name("armory")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "armory"]


def measure(settings: Settings, work: Path, label: str, seconds: float) -> dict[str, Any]:
    plan = set_up(settings)
    plan_file = work / f"plan-{label}.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    env = {
        **os.environ,
        "ARMORY_DATA_DIR": str(settings.data_dir),
        "ARMORY_DATABASE_URL": settings.database_url,
    }
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server_log = work / f"server-{label}.log"
    with server_log.open("wb") as out:
        server = subprocess.Popen(
            [*_armory(), "serve", "--port", str(port), "--processes", str(SERVER_PROCESSES)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start:\n{server_log.read_text()}")
            try:
                if httpx2.get(f"{url}/api/v1/vkey", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.1)
        command = [
            sys.executable,
            "-m",
            "bench.loadgen",
            "--url",
            url,
            "--plan",
            str(plan_file),
            "--seconds",
            f"{seconds:g}",
            "--warmup",
            f"{WARMUP:g}",
        ]
        done = subprocess.run(
            command, cwd=REPO, capture_output=True, text=True, check=False, timeout=600
        )
        if done.returncode != 0:
            raise SystemExit(f"the load tool failed: {done.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(done.stdout)
    finally:
        server.terminate()
        server.wait(60)
    verified = subprocess.run(
        [*_armory(), "verify", "--book", BOOK], env=env, capture_output=True, text=True, check=False
    )
    result["verified"] = verified.stdout.strip() or verified.stderr.strip()
    result["verify_ok"] = verified.returncode == 0
    return result


def _rows(label: str, r: dict[str, Any]) -> list[Row]:
    p99 = r["command_ms"]["99"]  # JSON keys: the percentiles come back as strings
    reads = r["read_ms"]
    return [
        Row(
            f"{label}: commands through HTTP, 50 clients (commands/s)",
            f"{r['commands_per_s']:,.0f} commands/s (+ {r['reads_per_s']:,.0f} reads/s)",
            target=f"≥ {TARGET_RATE:,.0f}",
            met=r["commands_per_s"] >= TARGET_RATE,
        ),
        Row(
            f"{label}: command latency p50 / p95 / p99",
            " / ".join(ms(r["command_ms"][k] / 1000) for k in ("50", "95", "99")),
            target=f"p99 ≤ {TARGET_P99_MS:.0f} ms",
            met=p99 <= TARGET_P99_MS,
        ),
        Row(
            f"{label}: read latency p50 / p95 / p99",
            " / ".join(ms(reads[k] / 1000) for k in ("50", "95", "99")),
        ),
    ]


def run(scale: Scale, work: Path, pg: Postgres | None) -> Section:
    seconds = QUICK_SECONDS if scale == QUICK else FULL_SECONDS
    results: list[tuple[str, dict[str, Any]]] = []
    settle(pg)
    log(f"benchmark 7: HTTP, 50 clients, SQLite, for {seconds:.0f} s")
    directory = work / "http-sqlite"
    results.append(("SQLite", measure(Settings.load(data_dir=directory), work, "sqlite", seconds)))
    remove(directory)
    if pg is not None:
        settle(pg)
        log(f"benchmark 7: HTTP, 50 clients, PostgreSQL, for {seconds:.0f} s")
        url = pg.create_database("http")
        directory = work / "http-postgres"
        results.append(
            ("PostgreSQL", measure(Settings.load(directory, url), work, "postgres", seconds))
        )
        remove(directory)
    rows: list[Row] = []
    checks: list[str] = []
    for label, result in results:
        log(
            f"  {label}: {result['commands_per_s']:,.0f} commands/s, "
            f"p99 {result['command_ms']['99']:.1f} ms, errors {result['errors']}"
        )
        rows += _rows(label, result)
        checks.append(
            f"{label}: {result['commands']:,} commands and {result['reads']:,} reads in the "
            f"measured {result['seconds']:g} s; {result['errors']} answers other than 201/200 "
            f"{result['first_errors'] or ''}; `armory verify --book {BOOK}` afterwards: "
            f"{result['verified']}"
        )
    load_command = shlex.join(
        [
            "python",
            "-m",
            "bench.loadgen",
            "--url",
            "URL",
            "--plan",
            "PLAN.json",
            "--seconds",
            f"{seconds:g}",
            "--warmup",
            f"{WARMUP:g}",
        ]
    )
    method = [
        "Load tool: `bench/loadgen.py` (asyncio with aiohttp and uvloop), run as "
        f"`{load_command}` in its own process against `armory serve --processes "
        f"{SERVER_PROCESSES}` (uvicorn, {SERVER_PROCESSES} server processes, one per core, each "
        f"listening on its own socket of the same address (SO_REUSEPORT) and each with "
        f"{REQUEST_THREADS // SERVER_PROCESSES} request threads, the default share of "
        f"{REQUEST_THREADS}) on 127.0.0.1, all on this machine's two cores.",
        f"50 clients, each on its own connection: {CUSTODY_CLIENTS} armorers each walk their "
        "own firearm through check out, the pre-handover inspection witnessed by the performer "
        "and the first AD (PINs checked), hand over, take back, inspection after the return and "
        f"store, reading the board after each cycle; {READERS} readers cycle through the board, "
        "the firearms, the signed checkpoint and an inclusion proof. All commands go to the "
        "one production book; each is answered once it is durable, and commands that arrive "
        "while a transaction commits share the next one (group commit).",
        f"Timed for {seconds:g} s after {WARMUP:g} s of warm-up; the clients stop by themselves "
        "at the deadline. Latency is measured by the client, from sending the request to "
        "reading the whole answer.",
    ]
    return Section("HTTP API under load (benchmark 7)", rows, method, checks)
