"""WalCheckpointer: moves SQLite's write-ahead log into the database on a thread of its own.

SQLite's default copies the log into the database inside whichever commit crosses 1000 pages,
so an append now and then pays for the writes of many. Armory's connections turn that off and
this thread checkpoints instead, a moment after commits, beside the next append: the copy runs
in SQLite's C code without Python's lock, on the second core (docs/benchmarks.md).
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

CHECKPOINT_BYTES = 4 << 20  # checkpoint once about this much was written: SQLite's own default


class WalCheckpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` once commits have written about 4 MiB."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.failures = 0
        self._written = 0

    def committed(self, written: int) -> None:
        """Note a commit of about `written` bytes; checkpoint when enough has piled up."""
        self._written += written
        if self._written < CHECKPOINT_BYTES:
            return
        self._written = 0
        if self._thread is None:
            with self._start_lock:
                if self._thread is None and not self._stopping.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name="armory-wal-checkpoint", daemon=True
                    )
                    self._thread.start()
        self._wanted.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wanted.wait()
            self._wanted.clear()
            if not self._stopping.is_set():
                self.checkpoint("PASSIVE")

    def checkpoint(self, mode: str = "PASSIVE") -> None:
        """Checkpoint now. A busy database is left for the next time: nothing is lost."""
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(f"PRAGMA wal_checkpoint({mode})")
            cursor.fetchall()
            cursor.close()
        except SQLAlchemyError:
            self.failures += 1
        except self._engine.dialect.loaded_dbapi.OperationalError:
            self.failures += 1  # locked or busy: the next commit asks again
        finally:
            raw.close()

    def stop(self) -> None:
        """Stop the thread after a last full checkpoint."""
        self._stopping.set()
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.checkpoint("TRUNCATE")
