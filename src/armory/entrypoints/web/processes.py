"""Several server processes on one address (`armory serve --processes N`).

Each process listens on a socket of its own, bound to the same address with SO_REUSEPORT, so the
kernel spreads new connections over the processes evenly. (Processes that share one listening
socket each take the next connection when they are free to, and one of them can end up with
most of a busy client's connections while the other idles.) Each process opens the node itself
(web.app.server_process_app) from the environment this one sets.

The parent only watches: on SIGINT or SIGTERM it asks every process to stop and waits for them;
if one stops by itself, it stops the others and says so.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from armory.errors import ArmoryError, InvalidInput

STOP_SECONDS = 30  # how long a process may take to finish its requests and close the node
BACKLOG = 2048


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on (host, port) beside the other processes' sockets."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def serve_one(host: str, port: int, options: dict[str, Any]) -> None:
    """One server process: its own socket, uvicorn, the app made here."""
    import uvicorn  # noqa: PLC0415 -- loaded in the server process only

    sock = listening_socket(host, port)
    config = uvicorn.Config(
        "armory.entrypoints.web.app:server_process_app", factory=True, **options
    )
    uvicorn.Server(config).run(sockets=[sock])


def serve(
    processes: int,
    host: str,
    port: int,
    options: dict[str, Any],
    ready: Callable[[], None] = lambda: None,
) -> None:
    """Run `processes` server processes on (host, port), each with uvicorn's `options`, until
    a signal stops them; `ready` once the address is known to be free."""
    try:
        listening_socket(host, port).close()  # the address is free, before any process starts
    except OSError as problem:
        raise InvalidInput(
            f"cannot listen on {host}:{port}: {problem.strerror}; choose another --port"
        ) from None
    ready()
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=serve_one, args=(host, port, options), name=f"armory-serve-{n}")
        for n in range(processes)
    ]
    stopping = threading.Event()

    def stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for child in children:
            child.start()
        while not stopping.is_set() and all(child.is_alive() for child in children):
            multiprocessing.connection.wait([child.sentinel for child in children], timeout=0.5)
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: uvicorn finishes its requests and closes the node
        for child in children:
            child.join(STOP_SECONDS)
            if child.is_alive():
                child.kill()
                child.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not stopping.is_set():
        stopped = next(child for child in children if child.exitcode is not None)
        raise ArmoryError(
            f"a server process stopped by itself (exit code {stopped.exitcode}); the others "
            "were stopped too: see the messages above"
        )
