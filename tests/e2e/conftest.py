"""Fixtures that run the real `armory` command, as a separate program, on each storage backend.

`armory` is a node with its own data directory, initialised with `armory init`, whose database is
`database_url` (SQLite, then PostgreSQL). Calling it runs one `armory` process and returns what
it printed; every call checks that nothing printed a traceback.

Starting Python and importing Armory costs about a second here, and these tests run the command
hundreds of times. So a node's commands run in processes forked from one that imported the
command line once (`ArmoryForks`): each is a new process with its own arguments, environment,
standard streams and database connections, entering through `run()` exactly as the installed
`armory` script does, and ending with its exit status. `ArmoryNode.fork` starts one with pipes
to its standard streams, to feed it, read it and kill it. What must be the installed script
itself (concurrent appenders, `--help`) starts it with `ArmoryNode.popen` or `armory_command()`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import IO, Any

import pytest

NODE_NAME = "armory.example"
COMMAND_TIMEOUT = 120  # seconds: far above any command here, so a hang fails instead of blocking


def armory_command() -> list[str]:
    """The argv prefix that starts the installed `armory` command."""
    script = Path(sys.executable).with_name("armory")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from armory.entrypoints.cli.main import run; run()"]


def base_environment() -> dict[str, str]:
    """The test's environment without any Armory setting a developer may have exported."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARMORY_")}
    env["COLUMNS"] = "100"  # help and errors wrap the same way in every terminal
    return env


def assert_clean_stderr(args: Sequence[str], stderr: str) -> None:
    """No command may show a traceback, whatever went wrong."""
    assert "Traceback" not in stderr, f"armory {' '.join(args)} printed a traceback:\n{stderr}"


@dataclass(frozen=True)
class ArmoryNode:
    """One Armory node: a data directory (the node key) and a database URL."""

    data_dir: Path
    database_url: str
    forks: ArmoryForks | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = base_environment()
        env["ARMORY_DATA_DIR"] = str(self.data_dir)
        env["ARMORY_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        env.update(extra or {})
        return env

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env_extra: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run `armory ARGS` to completion; with `check`, a non-zero exit fails the test."""
        if self.forks is not None:
            result = self.forks.run(args, self.env(env_extra), input)
        else:
            result = subprocess.run(
                [*armory_command(), *args],
                input=input,
                env=self.env(env_extra),
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        assert_clean_stderr(args, result.stderr)
        if check and result.returncode != 0:
            pytest.fail(
                f"armory {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}{result.stderr}",
                pytrace=False,
            )
        return result

    def fork(self, *args: str) -> ForkedArmory:
        """Start `armory ARGS` forked (see ArmoryForks), with pipes on its standard streams."""
        assert self.forks is not None, "this node runs no forked commands"
        return ForkedArmory(self.forks, args, self.env())

    def popen(
        self, *args: str, env_extra: Mapping[str, str] | None = None
    ) -> subprocess.Popen[str]:
        """Start `armory ARGS` with pipes on stdin, stdout and stderr; the caller waits for it."""
        return subprocess.Popen(
            [*armory_command(), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=self.env(env_extra),
        )


@pytest.fixture
def fresh_node(database_url: str, tmp_path: Path, armory_forks: ArmoryForks) -> ArmoryNode:
    """A node whose data directory does not exist yet, on an empty database of each backend."""
    return ArmoryNode(tmp_path / "data", database_url, armory_forks)


@pytest.fixture
def armory(fresh_node: ArmoryNode) -> ArmoryNode:
    """A node made by `armory init --node-name armory.example`, on each backend in turn."""
    fresh_node("init", "--node-name", NODE_NAME)
    return fresh_node


# --- Many runs of the real command line, one import -------------------------------------------

# The forking process. It receives each job on a SEQPACKET socket: JSON and, passed along with
# it, the three file descriptors the child takes as stdin, stdout and stderr. It answers a start
# with the child's pid, and {"wait": pid, "timeout": s} with the exit status, or "-" if the
# child is still running after s seconds.
FORK_SERVER = r"""
import importlib, importlib.util, json, os, socket, sys, time, traceback
from armory.entrypoints.cli.main import run

# What the first command of a process imports on demand, imported once here instead.
for name in sys.argv[2:]:
    if importlib.util.find_spec(name) is not None:
        importlib.import_module(name)

channel = socket.socket(fileno=int(sys.argv[1]))
while True:
    message, fds, _flags, _address = socket.recv_fds(channel, 1 << 20, 3)
    if not message:
        break
    job = json.loads(message)
    if "wait" in job:
        deadline = time.monotonic() + job["timeout"]
        while (done := os.waitpid(job["wait"], os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        reply = str(os.waitstatus_to_exitcode(done[1])) if done[0] else "-"
        channel.send(reply.encode())
        continue
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            channel.close()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
                os.close(fd)
            sys.stdin = open(0, encoding="utf-8", closefd=False)
            os.environ.clear()
            os.environ.update(job["env"])
            sys.argv = ["armory", *job["argv"]]
            try:
                run()
                code = 0
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else int(done.code is not None)
        except BaseException:
            traceback.print_exc()  # the test then fails on the traceback, with it in view
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    for fd in fds:
        os.close(fd)
    channel.send(str(pid).encode())
"""


PRELOADED = (
    "typer._adapters",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "sqlalchemy.dialects.postgresql.psycopg",
    "alembic.command",
    "alembic.runtime.migration",
    "alembic.script",
)


class ArmoryForks:
    """Runs `armory` commands, each in a process forked from one that imported Armory once."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._numbers = count()
        self._lock = threading.Lock()
        self._channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._server = subprocess.Popen(
            [sys.executable, "-c", FORK_SERVER, str(theirs.fileno()), *PRELOADED],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            pass_fds=[theirs.fileno()],
            env=base_environment(),
        )
        theirs.close()

    def _ask(self, job: Mapping[str, object], fds: Sequence[int] = ()) -> str:
        with self._lock:  # one question and its answer at a time on the channel
            socket.send_fds(self._channel, [json.dumps(job).encode()], list(fds))
            reply = self._channel.recv(64).decode()
        assert reply, "the process that forks armory commands has died"
        return reply

    def start(
        self, args: Sequence[str], env: Mapping[str, str], stdin: int, stdout: int, stderr: int
    ) -> int:
        """Start `armory ARGS` on these three file descriptors (the caller closes its copies);
        return its pid."""
        return int(self._ask({"argv": list(args), "env": dict(env)}, [stdin, stdout, stderr]))

    def wait(self, pid: int, timeout: float = COMMAND_TIMEOUT) -> int | None:
        """The exit status of a started command (negative: killed by that signal), or None
        if it is still running after `timeout` seconds."""
        reply = self._ask({"wait": pid, "timeout": timeout})
        return None if reply == "-" else int(reply)

    def run(
        self, args: Sequence[str], env: Mapping[str, str], input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `armory ARGS` in a fresh child process, `input` on its stdin; return its output."""
        number = next(self._numbers)
        paths = [self._directory / f"run-{number}.{name}" for name in ("in", "out", "err")]
        paths[0].write_text(input or "", encoding="utf-8")
        with ExitStack() as files:
            handles = [
                files.enter_context(path.open(mode))
                for path, mode in zip(paths, ("rb", "wb", "wb"), strict=True)
            ]
            pid = self.start(args, env, *(handle.fileno() for handle in handles))
        code = self.wait(pid)
        assert code is not None, f"armory {' '.join(args)} ran for over {COMMAND_TIMEOUT} s"
        out, err = (path.read_text("utf-8") for path in paths[1:])
        for path in paths:
            path.unlink()
        return subprocess.CompletedProcess(["armory", *args], code, out, err)

    def close(self) -> None:
        self._channel.close()
        self._server.wait(timeout=COMMAND_TIMEOUT)


class ForkedArmory:
    """A command started by ArmoryForks, with pipes to its standard streams (like Popen)."""

    def __init__(self, forks: ArmoryForks, args: Sequence[str], env: Mapping[str, str]) -> None:
        self._forks = forks
        ends = [os.pipe() for _stream in range(3)]
        theirs = [ends[0][0], ends[1][1], ends[2][1]]
        try:
            self.pid = forks.start(args, env, *theirs)
        finally:
            for fd in theirs:
                os.close(fd)
        # Closed by the caller, as with Popen.
        self.stdin: IO[str] = os.fdopen(ends[0][1], "w", encoding="utf-8")
        self.stdout: IO[str] = os.fdopen(ends[1][0], encoding="utf-8")
        self.stderr: IO[str] = os.fdopen(ends[2][0], encoding="utf-8")
        self.returncode: int | None = None

    def wait(self, timeout: float = COMMAND_TIMEOUT) -> int:
        if self.returncode is None:
            code = self._forks.wait(self.pid, timeout)
            if code is None:
                raise subprocess.TimeoutExpired(f"armory (pid {self.pid})", timeout)
            self.returncode = code
        return self.returncode


@pytest.fixture(scope="session")
def armory_forks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArmoryForks]:
    """Runs of the real `armory` entry point without paying Python's start-up for each one."""
    forks = ArmoryForks(tmp_path_factory.mktemp("armory-forks"))
    yield forks
    forks.close()


def one_line(text: str) -> str:
    """The single line of an error message; fails the test when there are more, or none."""
    lines = text.strip("\n").split("\n")
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{text}"
    assert lines[0].strip(), "expected a message, got an empty line"
    return lines[0]


def json_lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
