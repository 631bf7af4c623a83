"""Writers of one SQLite file, in several processes, take turns on a lock file beside it.

SQLite admits one writer per database. A process that finds the write lock taken waits in
SQLite's busy handler, which sleeps and retries with sleeps growing to 100 ms a try. With two
server processes on one database, those sleeps were most of a command's tail latency. A
process waiting here waits in the kernel instead (flock), and is woken the moment the previous
writer lets go. The kernel also lets go for a process that dies, even by kill -9, so a crashed
writer never leaves the lock behind.

Within a process, the store's own thread lock already lets one thread at a time through, so
one open file serves every thread of the process.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType

from armory.errors import StorageError

SUFFIX = "-writers"  # the lock file: the database file's name with this added


class WriterTurns:
    """An exclusive turn among the processes writing the SQLite database at `database`."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + SUFFIX)
        self._fd: int | None = None
        self._opening = threading.Lock()

    def __enter__(self) -> None:
        fd = self._fd if self._fd is not None else self._open()
        fcntl.flock(fd, fcntl.LOCK_EX)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        problem: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._opening:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _open(self) -> int:
        with self._opening:
            if self._fd is None:
                try:
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                except OSError as problem:
                    raise StorageError(
                        f"cannot open the writers' lock file {self.path}: {problem.strerror}; "
                        "check that the data directory is writable"
                    ) from None
            return self._fd
