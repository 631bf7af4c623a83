"""The HTTP load generator: `python -m bench.loadgen --url URL --plan FILE --seconds S`.

50 concurrent clients (asyncio, aiohttp) on one connection each. A custody client is an armorer
walking one firearm through the handover cycle of SPEC §4.2 again and again (check out, the
pre-handover inspection witnessed by the performer and the first AD, hand over, take back,
inspect after the return, store), reading the board after each cycle; a reader client reads what
people on set look at (the board, the firearms, the checkpoint, an inclusion proof). The load is
bounded in time: every client stops at the deadline. Prints one JSON object with the counts and
the latencies of the measured window (after the warm-up).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import uvloop


async def _login(session: aiohttp.ClientSession, url: str, user: str, password: str) -> str:
    async with session.post(
        f"{url}/api/v1/token", data={"username": user, "password": password}
    ) as answer:
        body = await answer.json()
        if answer.status != 200:
            raise SystemExit(f"cannot sign in {user}: {answer.status} {body}")
        token: str = body["access_token"]
        return token


class Recorder:
    def __init__(self, start: float, warmup: float, deadline: float) -> None:
        self.measure_from = start + warmup
        self.deadline = deadline
        self.commands: list[float] = []
        self.reads: list[float] = []
        self.errors: list[str] = []

    def note(
        self, kind: str, began: float, ended: float, status: int, expected: int, body: bytes
    ) -> None:
        if status != expected:
            if len(self.errors) < 20:
                self.errors.append(f"{status} {body[:300].decode('utf-8', 'replace')}")
            else:
                self.errors.append("")
        if began < self.measure_from or ended > self.deadline:
            return
        (self.commands if kind == "command" else self.reads).append(ended - began)


async def _custody(
    session: aiohttp.ClientSession,
    url: str,
    plan: dict[str, Any],
    n: int,
    token: str,
    recorder: Recorder,
    stop: float,
) -> None:
    me = plan["custody"][n]
    headers = {"Authorization": f"Bearer {token}"}
    sending = {**headers, "Content-Type": "application/json"}
    # Written once: the clients share the machine with the server, so they spend as little of
    # it as they can.
    bodies = [orjson.dumps(command) for command in me["cycle"]]
    commands = f"{url}/api/v1/books/{plan['book']}/commands"
    board = f"{url}/api/v1/books/{plan['book']}/board"
    while time.perf_counter() < stop:
        for body in bodies:
            began = time.perf_counter()
            async with session.post(commands, data=body, headers=sending) as answer:
                got = await answer.read()
            recorder.note("command", began, time.perf_counter(), answer.status, 201, got)
        began = time.perf_counter()
        async with session.get(board, headers=headers) as answer:
            got = await answer.read()
        recorder.note("read", began, time.perf_counter(), answer.status, 200, got)


async def _reader(
    session: aiohttp.ClientSession,
    url: str,
    plan: dict[str, Any],
    n: int,
    token: str,
    recorder: Recorder,
    stop: float,
) -> None:
    book = plan["book"]
    paths = [
        f"/api/v1/books/{book}/board",
        f"/api/v1/books/{book}/firearms",
        f"/api/v1/books/{book}/checkpoint",
        f"/api/v1/books/{book}/proofs/inclusion?index={n + 1}",
    ]
    headers = {"Authorization": f"Bearer {token}"}
    step = 0
    while time.perf_counter() < stop:
        path = paths[step % len(paths)]
        step += 1
        began = time.perf_counter()
        async with session.get(f"{url}{path}", headers=headers) as answer:
            got = await answer.read()
        recorder.note("read", began, time.perf_counter(), answer.status, 200, got)


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _main(url: str, plan: dict[str, Any], seconds: float, warmup: float) -> dict[str, Any]:
    users = [c["armorer"] for c in plan["custody"]] + plan["readers"]
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) for _ in users]
    try:
        # Everyone signs in first (Argon2id, slow on purpose); the clock starts after.
        tokens = await asyncio.gather(
            *(_login(s, url, u, plan["password"]) for s, u in zip(sessions, users, strict=True))
        )
        start = time.perf_counter()
        stop = start + warmup + seconds
        recorder = Recorder(start, warmup, stop)
        custody = len(plan["custody"])
        clients = [
            _custody(sessions[n], url, plan, n, tokens[n], recorder, stop) for n in range(custody)
        ]
        clients += [
            _reader(sessions[custody + n], url, plan, n, tokens[custody + n], recorder, stop)
            for n in range(len(plan["readers"]))
        ]
        await asyncio.gather(*clients)
    finally:
        for session in sessions:
            await session.close()
    window = seconds
    return {
        "clients": len(clients),
        "seconds": window,
        "commands": len(recorder.commands),
        "reads": len(recorder.reads),
        "commands_per_s": len(recorder.commands) / window,
        "reads_per_s": len(recorder.reads) / window,
        "command_ms": {p: _percentile(recorder.commands, p) * 1000 for p in (50, 95, 99)},
        "read_ms": {p: _percentile(recorder.reads, p) * 1000 for p in (50, 95, 99)},
        "all_ms_p99": _percentile(recorder.commands + recorder.reads, 99) * 1000,
        "errors": len(recorder.errors),
        "first_errors": [e for e in recorder.errors if e][:5],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--plan", required=True, help="JSON file: the clients and their work")
    parser.add_argument("--seconds", type=float, default=20.0, help="the measured window")
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args(argv)
    plan = json.loads(Path(args.plan).read_text(encoding="utf-8"))
    uvloop.install()
    result = asyncio.run(_main(args.url, plan, args.seconds, args.warmup))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
