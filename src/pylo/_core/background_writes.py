"""Background writes: the caller hands writes to helper threads and goes on, so a write costs it
almost nothing (a write releases the GIL, and on an object store its latency overlaps the work).

    block loop ── flush k ──► [1 helper: errors k, then segment k] ── in order ──► store
    planner ── block k ──► [8 helpers (4 on local disk, whose fsyncs overlap): input blocks,
                            any order] ──► store, then the manifest

At most ``depth`` writes are in flight; the next submit waits for the oldest. The error of a
background write is raised at the next submit or at ``wait()``, so a failed write is never
forgotten. With one thread, writes happen in the order they were submitted; with none, they
happen at once in the caller.
"""

from __future__ import annotations

import collections
import concurrent.futures
from collections.abc import Callable

from .helper_threads import HelperThreads

__all__ = ["BackgroundWrites"]


class BackgroundWrites:
    def __init__(self, threads: int = 1, depth: int = 2) -> None:
        self.threads, self.depth = threads, depth
        self._pool: HelperThreads | None = None
        self._pending: collections.deque[concurrent.futures.Future[None]] = collections.deque()

    def submit(self, write: Callable[[], None]) -> None:
        """Queue ``write`` after the ones already queued; raise the error of a finished one.
        With no threads, ``write`` runs at once, here."""
        if self.threads == 0:
            write()
            return
        while self._pending and (self._pending[0].done() or len(self._pending) >= self.depth):
            self._pending.popleft().result()
        if self._pool is None:
            self._pool = HelperThreads(self.threads, "pylo-write")  # see ``helper_threads``
        self._pending.append(self._pool.submit(write))

    def settle(self) -> None:
        """Block until every queued write has ended, keeping their errors for the next submit."""
        concurrent.futures.wait(list(self._pending))

    def wait(self) -> None:
        """Block until every queued write is done; raise the first error."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pending.clear()

    def close(self) -> None:
        """Wait for the queued writes without raising, then end the helper threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._pending.clear()
