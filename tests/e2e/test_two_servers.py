"""Two `armory serve` processes on one database never fork a book (SPEC §8).

Both servers take commands for the same book from concurrent clients. Every checkpoint any client
was given (with each 201, and from polling both servers) is collected; then: checkpoints of the
same size are the same tree, each one is signed by the node's key, and each is proven consistent
with the last by the servers' own consistency proofs, checked here with Armory's verifier.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx2
import pytest

from armory.ledger import merkle
from armory.ledger.checkpoint import Checkpoint, open_checkpoint
from armory.ledger.note import VerifierKey
from tests.e2e.conftest import NODE_NAME, ArmoryNode, armory_command

CLIENTS = 6
COMMANDS_EACH = 25
PASSWORD = "two servers, one book"  # noqa: S105 -- the test accounts' password
CREW = {"ana": "armorer", "cal": "crew"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def start_server(
    node: ArmoryNode, log: Path, processes: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*armory_command(), "serve", "--port", str(port), "--processes", str(processes)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=node.env(),
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx2.get(f"{url}/api/v1/vkey", timeout=1).status_code == 200:
                return process, url
        except httpx2.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"the server did not start:\n{log.read_text()}")


@pytest.fixture(params=["two servers", "one server of two processes"])
def two_servers(
    armory: ArmoryNode, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[list[str]]:
    """Two server processes on the node's database: two `armory serve`, or one started with
    `--processes 2`, whose processes share its address (the clients use it twice)."""
    armory(
        "user", "add", "root", "--name", "Root", "--password", PASSWORD, "--pin", "9999", "--admin"
    )
    for user in CREW:
        armory("user", "add", user, "--name", user, "--password", PASSWORD, "--pin", "1234")
    armory("book", "create", "film", "--kind", "production", "--name", "Film")
    enrol = "".join(
        f'{{"type": "enroll_person", "person": "{u}", "name": "{u}", "roles": ["{r}"]}}\n'
        for u, r in CREW.items()
    )
    armory("do", "film", "--as", "root", "-", input=enrol)
    with ExitStack() as stack:
        urls = []
        if request.param == "two servers":
            for n in range(2):
                process, url = start_server(armory, tmp_path / f"server{n}.log")
                stack.callback(process.wait, 30)
                stack.callback(process.terminate)
                urls.append(url)
        else:
            process, url = start_server(armory, tmp_path / "server.log", processes=2)
            stack.callback(process.wait, 30)
            stack.callback(process.terminate)
            urls = [url, url]
        yield urls


def token(url: str, user: str) -> str:
    answer = httpx2.post(f"{url}/api/v1/token", data={"username": user, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    value: str = answer.json()["access_token"]
    return value


def test_two_servers_never_fork_a_book(armory: ArmoryNode, two_servers: list[str]) -> None:
    # A token from one server works on the other: sessions live in the shared database.
    headers = {user: {"Authorization": f"Bearer {token(two_servers[0], user)}"} for user in CREW}
    notes: list[str] = []
    appended: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def client(n: int) -> None:
        user = "ana" if n % 2 == 0 else "cal"
        with httpx2.Client(timeout=60) as http:
            for i in range(COMMANDS_EACH):
                url = two_servers[(n + i) % 2]
                if user == "ana":
                    command = {
                        "type": "register_location",
                        "location": f"L-{n}-{i}",
                        "name": "Cart",
                        "kind": "cart",
                        "locked": False,
                        "keyholders": [],
                    }
                else:
                    command = {
                        "type": "report_incident",
                        "kind": "near_miss",
                        "description": f"client {n}, step {i}",
                        "items": [],
                    }
                answer = http.post(
                    f"{url}/api/v1/books/film/commands", json=command, headers=headers[user]
                )
                with lock:
                    if answer.status_code == 201:
                        notes.append(answer.json()["checkpoint"])
                        appended.extend(e["index"] for e in answer.json()["events"])
                    else:
                        failures.append(f"{answer.status_code} {answer.text}")

    def watcher() -> None:
        with httpx2.Client(timeout=60) as http:
            while not done.is_set():
                for url in two_servers:
                    answer = http.get(f"{url}/api/v1/books/film/checkpoint", headers=headers["cal"])
                    assert answer.status_code == 200
                    with lock:
                        notes.append(answer.text)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    watching = threading.Thread(target=watcher)
    watching.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watching.join()
    assert failures == []

    key = VerifierKey.parse(httpx2.get(f"{two_servers[1]}/api/v1/vkey").text.strip())
    by_size: dict[int, Checkpoint] = {}
    for note in notes:
        checkpoint = open_checkpoint(note, key, f"{NODE_NAME}/film")
        seen = by_size.setdefault(checkpoint.size, checkpoint)
        assert seen.root_hash == checkpoint.root_hash, f"two trees of size {checkpoint.size}"
    final = open_checkpoint(
        httpx2.get(f"{two_servers[0]}/api/v1/books/film/checkpoint", headers=headers["cal"]).text,
        key,
        f"{NODE_NAME}/film",
    )
    # Every acknowledged event has its own index, and together they fill the book after the
    # three entries of the set-up (book_created and two enrolments).
    assert sorted(appended) == list(range(3, final.size))
    assert len(by_size) > CLIENTS  # the clients really did see the book grow
    sizes = sorted(by_size)
    for n, size in enumerate(sizes):
        older = by_size[size]
        url = two_servers[n % 2]
        proof = httpx2.get(
            f"{url}/api/v1/books/film/proofs/consistency",
            params={"old": size, "new": final.size},
            headers=headers["cal"],
        ).json()
        merkle.verify_consistency(
            size,
            final.size,
            older.root_hash,
            final.root_hash,
            [base64.b64decode(h) for h in proof["proof"]],
        )
    assert armory("verify", "--book", "film").stdout.startswith("OK: book film: ")


def _server_processes(parent: int) -> list[int]:
    """The processes `armory serve --processes` started (not multiprocessing's helpers)."""
    found = []
    for task in Path(f"/proc/{parent}/task").iterdir():
        for child in (task / "children").read_text().split():
            command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"spawn_main" in command:
                found.append(int(child))
    return found


def test_when_one_server_process_dies_the_others_are_stopped_and_the_server_says_so(
    armory: ArmoryNode, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    process, url = start_server(armory, log, processes=2)
    try:
        children = _server_processes(process.pid)
        assert len(children) == 2
        os.kill(children[0], signal.SIGKILL)
        assert process.wait(60) == 1
        assert "a server process stopped by itself (exit code -9)" in log.read_text()
        assert not Path(f"/proc/{children[1]}").exists(), "the other process was left running"
        with pytest.raises(httpx2.TransportError):
            httpx2.get(f"{url}/api/v1/vkey", timeout=2)
    finally:
        process.kill()
        process.wait(10)
