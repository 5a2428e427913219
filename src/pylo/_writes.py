"""Ordered background writes: a block hands each flush to one helper thread and goes on running
the task, so a flush costs the task loop almost nothing (the write releases the GIL, and on an
object store its latency overlaps the work).

    task loop ── flush k ──► [helper thread: write errors k, write segment k] ── in order ──► store
              └─ at most ``depth`` flushes in flight; the next submit waits for the oldest.

An error of a background write is raised to the block at its next flush or at ``wait()``, so a
failed write is never forgotten.
"""

from __future__ import annotations

import collections
import concurrent.futures
from collections.abc import Callable

__all__ = ["OrderedWrites"]


class OrderedWrites:
    def __init__(self, depth: int = 2) -> None:
        self.depth = depth
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: collections.deque[concurrent.futures.Future[None]] = collections.deque()

    def submit(self, write: Callable[[], None]) -> None:
        """Queue ``write`` after the ones already queued; raise the error of a finished one."""
        while self._pending and (self._pending[0].done() or len(self._pending) >= self.depth):
            self._pending.popleft().result()
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pylo-flush")
        self._pending.append(self._pool.submit(write))

    def wait(self) -> None:
        """Block until every queued write is done; raise the first error."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pending.clear()

    def close(self) -> None:
        """Wait for the queued writes without raising, then end the helper thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._pending.clear()
