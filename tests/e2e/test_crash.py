"""kill -9 of an appending `armory` process: every acknowledged entry survives, intact.

Each round starts `armory append BOOK - --each --as writer` in a new process (forked from one
that has imported Armory, see conftest.py: fifty Python start-ups would be most of the run),
feeds it numbered lines, and reads the index it prints after each entry's transaction has
committed (the acknowledgement). After a random moment it is killed with SIGKILL. Then every
acknowledged entry must be in the book with exactly the content sent, at most one more entry
(committed, killed before it could print) may follow them, nothing may be duplicated or
missing, `armory verify --book` must pass, and the next round's process must append normally
on what the killed one left behind.

On PostgreSQL the cluster keeps fsync and synchronous_commit on, and every fifth round the server
itself is stopped abruptly (`pg_ctl stop -m immediate`, a crash: no shutdown checkpoint) under
the appender, then started again.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import NODE_NAME, ArmoryForks, ArmoryNode, ForkedArmory, one_line
from tests.pg_cluster import Cluster, fresh_postgres_database

BOOK = "crash"
SEED = 1125
LINES_PER_ROUND = 3000  # far more than one round commits before it is killed
MAX_DELAY = 0.2  # seconds between the first acknowledgement and the kill
FIRST_ACK_TIMEOUT = 60.0
SQLITE_ROUNDS = 50
POSTGRES_ROUNDS = 15  # fewer: every commit waits for fsync, and some rounds restart the server
SERVER_CRASH_EVERY = 5


@dataclass(frozen=True)
class Round:
    number: int
    start: int  # the book's size when the round began
    acked: list[int]  # the indices the appender printed, in order
    returncode: int
    stderr: str


def lines_for(number: int) -> bytes:
    return "".join(
        json.dumps({"type": "note", "data": {"round": number, "seq": seq}}) + "\n"
        for seq in range(LINES_PER_ROUND)
    ).encode()


def feed(fd: int, data: bytes) -> int:
    """Write `data` to the appender's stdin until it is all written or the appender is gone;
    return how many bytes it was given."""
    written = 0
    try:
        while written < len(data):
            written += os.write(fd, data[written : written + 4096])
    except BrokenPipeError:
        return written  # killed mid-feed, as intended: the rest is never read
    return written


def read_lines(stream: Iterator[str], out: queue.Queue[str | None]) -> None:
    for line in stream:
        out.put(line)
    out.put(None)


def appender_round(
    node: ArmoryNode,
    number: int,
    start: int,
    delay: float,
    crash: Callable[[ForkedArmory], None],
) -> Round:
    """Run one appender, let it acknowledge entries for `delay` seconds, then `crash` it."""
    process = node.fork("append", BOOK, "-", "--each", "--as", "writer")
    acks: queue.Queue[str | None] = queue.Queue()
    with ThreadPoolExecutor(3) as pool:
        fed = pool.submit(feed, process.stdin.fileno(), lines_for(number))
        reader = pool.submit(read_lines, process.stdout, acks)
        errors = pool.submit(process.stderr.read)
        first = acks.get(timeout=FIRST_ACK_TIMEOUT)
        if first is None:
            process.wait(timeout=10)
            pytest.fail(f"round {number}: the appender acknowledged nothing: {errors.result()}")
        time.sleep(delay)
        crash(process)
        returncode = process.wait(timeout=30)
        fed.result(timeout=30)
        reader.result(timeout=30)
        stderr = errors.result(timeout=30)
    process.stdin.close()
    process.stdout.close()
    process.stderr.close()
    printed = [first]
    while (line := acks.get_nowait()) is not None:
        printed.append(line)
    return Round(number, start, [int(line) for line in printed], returncode, stderr)


def sigkill(process: ForkedArmory) -> None:
    os.kill(process.pid, signal.SIGKILL)


def read_book(database_url: str) -> list[tuple[int, dict[str, object]]]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT idx, body FROM entry_rows WHERE book = :book ORDER BY idx"),
                {"book": BOOK},
            ).all()
    finally:
        engine.dispose()
    return [(int(row.idx), json.loads(bytes(row.body))) for row in rows]


def check_round(node: ArmoryNode, done: Round) -> int:
    """Everything a killed appender acknowledged is there, as sent; return the book's size."""
    book = read_book(node.database_url)
    assert [index for index, _entry in book] == list(range(len(book))), "a gap in the book"
    assert all(entry["index"] == index for index, entry in book)
    acked = done.acked
    assert acked == list(range(done.start, done.start + len(acked))), (
        f"round {done.number}: the acknowledged indices are not consecutive from "
        f"{done.start}: {acked[:5]}..."
    )
    ours = book[done.start :]
    # Output lags commits by at most the one entry committed just before the kill.
    assert len(acked) <= len(ours) <= len(acked) + 1, (
        f"round {done.number}: {len(acked)} acknowledged, {len(ours)} in the book"
    )
    for seq, (_index, entry) in enumerate(ours):
        assert entry["actor"] == "writer"
        assert entry["type"] == "note"
        assert entry["data"] == {"round": done.number, "seq": seq}, (
            f"round {done.number}: entry {done.start + seq} is not line {seq} as sent"
        )
    verified = node("verify", "--book", BOOK)
    assert verified.stdout.startswith(f"OK: book {BOOK}: {len(book)} entries")
    return len(book)


def crash_loop(
    node: ArmoryNode,
    rounds: int,
    crash_for: Callable[[int], Callable[[ForkedArmory], None]],
) -> list[Round]:
    node("init", "--node-name", NODE_NAME)
    node("book", "create", BOOK, "--kind", "production", "--name", "Crash")
    rng = random.Random(SEED)
    size = 1
    history = []
    for number in range(rounds):
        done = appender_round(node, number, size, rng.uniform(0.0, MAX_DELAY), crash_for(number))
        size = check_round(node, done)
        history.append(done)
    # After the last kill, a plain append still works and the book still verifies.
    final = node("append", BOOK, "--as", "writer", input='{"type": "note", "data": {}}\n')
    assert json.loads(final.stdout)["size"] == size + 1
    assert node("verify", "--book", BOOK).stdout.startswith(f"OK: book {BOOK}: {size + 1} entries")
    acked = sum(len(done.acked) for done in history)
    print(
        f"{rounds} appenders crashed: {acked} acknowledged entries all kept; "
        f"{size - 1 - acked} more committed just before a kill; {size + 1} entries verified"
    )
    return history


@pytest.mark.slow
def test_sigkill_of_an_appender_on_sqlite_loses_no_acknowledged_entry(
    tmp_path: Path, armory_forks: ArmoryForks
) -> None:
    data_dir = tmp_path / "data"
    node = ArmoryNode(data_dir, f"sqlite:///{data_dir / 'armory.db'}", armory_forks)
    history = crash_loop(node, SQLITE_ROUNDS, lambda _number: sigkill)
    for done in history:
        assert done.returncode == -signal.SIGKILL
        assert "Traceback" not in done.stderr, done.stderr


@pytest.fixture
def durable_postgres_url(durable_postgres_cluster: Cluster) -> Iterator[str]:
    with fresh_postgres_database(durable_postgres_cluster.admin_url) as url:
        yield url


@pytest.mark.slow
def test_sigkill_of_an_appender_and_crashes_of_a_durable_postgresql_lose_nothing(
    durable_postgres_cluster: Cluster,
    durable_postgres_url: str,
    tmp_path: Path,
    armory_forks: ArmoryForks,
) -> None:
    cluster = durable_postgres_cluster
    node = ArmoryNode(tmp_path / "data", durable_postgres_url, armory_forks)

    def crash_the_server(process: ForkedArmory) -> None:
        cluster.run("pg_ctl", "-D", str(cluster.data_dir), "-m", "immediate", "-w", "stop")
        # The appender finds its connection gone; it must say so and stop, or be killed.
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            sigkill(process)
        cluster.start()

    def crash_for(number: int) -> Callable[[ForkedArmory], None]:
        return (
            crash_the_server if number % SERVER_CRASH_EVERY == SERVER_CRASH_EVERY - 1 else sigkill
        )

    history = crash_loop(node, POSTGRES_ROUNDS, crash_for)
    for done in history:
        if crash_for(done.number) is sigkill:
            assert done.returncode == -signal.SIGKILL
            assert "Traceback" not in done.stderr, done.stderr
        else:
            # What the appender prints when its server dies is the next test's concern.
            assert done.returncode != 0


def test_an_appender_whose_postgresql_server_dies_says_so_in_one_line(
    durable_postgres_cluster: Cluster,
    durable_postgres_url: str,
    tmp_path: Path,
    armory_forks: ArmoryForks,
) -> None:
    cluster = durable_postgres_cluster
    node = ArmoryNode(tmp_path / "data", durable_postgres_url, armory_forks)
    node("init", "--node-name", NODE_NAME)
    node("book", "create", BOOK, "--kind", "production", "--name", "Crash")

    def stop_the_server(process: ForkedArmory) -> None:
        cluster.run("pg_ctl", "-D", str(cluster.data_dir), "-m", "immediate", "-w", "stop")
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            sigkill(process)

    done = appender_round(node, 0, 1, 0.05, stop_the_server)
    cluster.start()  # for the database's removal after the test
    assert done.returncode > 0, "the appender did not stop by itself"
    assert "Traceback" not in done.stderr
    assert one_line(done.stderr).startswith("armory: ")
    assert "unexpected error" not in done.stderr
