"""Group commit for a server: one writer per book, and every command that arrived while the
previous transaction was committing goes into the next one.

Each request still gets its own answer, given only once its transaction is durable; the rules
see the commands one after the other in arrival order, exactly as if each had its own
transaction. What is shared is the lock, the transaction and the fsync: under load a book's
writer does a batch of commands for the price of one, and the request threads never queue on
the database's lock.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from armory.errors import InvalidInput, NotFound
from armory.services.commands import CommandService, Outcome, Prepared

MAX_BATCH = 100  # commands per transaction at most: an answer waits for its whole batch

Result = Outcome | InvalidInput | NotFound


@dataclass(frozen=True)
class _Request:
    prepared: Prepared
    answer: Future[Result]


class GroupCommitter:
    """Commands for each book, committed in batches by that book's own writer thread."""

    def __init__(self, commands: CommandService, max_batch: int = MAX_BATCH) -> None:
        self.commands = commands
        self.max_batch = max_batch
        self._queues: dict[str, queue.SimpleQueue[_Request | None]] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, book: str, prepared: Prepared) -> Future[Result]:
        """Queue a prepared command (CommandService.prepare, done by the caller's thread, so
        that PIN checks run in parallel); the future is answered once it is decided and
        durable."""
        answer: Future[Result] = Future()
        self._queue(book).put(_Request(prepared, answer))
        return answer

    def close(self) -> None:
        """Finish what is queued, then stop the writers."""
        with self._lock:
            self._closed = True
            for waiting in self._queues.values():
                waiting.put(None)
            threads = list(self._threads)
        for thread in threads:
            thread.join()

    def _queue(self, book: str) -> queue.SimpleQueue[_Request | None]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the server is stopping")
            waiting = self._queues.get(book)
            if waiting is None:
                waiting = self._queues[book] = queue.SimpleQueue()
                thread = threading.Thread(
                    target=self._write, args=(book, waiting), name=f"writer:{book}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return waiting

    def _write(self, book: str, waiting: queue.SimpleQueue[_Request | None]) -> None:
        stopping = False
        while not stopping:
            first = waiting.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    more = waiting.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._commit(book, batch)

    def _commit(self, book: str, batch: list[_Request]) -> None:
        try:
            results = self.commands.execute_prepared(book, [r.prepared for r in batch])
        except Exception as problem:  # noqa: BLE001 -- every waiting request is told what failed
            for request in batch:
                request.answer.set_exception(problem)
            return
        for request, result in zip(batch, results, strict=True):
            request.answer.set_result(result)
