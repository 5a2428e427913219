"""How many jobs of an engine have not settled, and who waits for that number to reach zero.

Counted from any thread (a job is counted from its submit to its settling, a re-run again), so
that ``engine.wait()`` and ``engine.join()`` need no loop round trip and no polling. Once the
scheduler broke (``break_with``), every wait ends with its error instead.
"""

from __future__ import annotations

import concurrent.futures
import threading

__all__ = ["Unsettled"]


class Unsettled:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._waiters: list[concurrent.futures.Future[None]] = []
        self._error: BaseException | None = None

    def add(self) -> None:
        with self._lock:
            self._count += 1

    def settled(self) -> None:
        with self._lock:
            self._count -= 1
            woken, self._waiters = (self._waiters, []) if self._count == 0 else ([], self._waiters)
        for future in woken:
            if not future.done():  # a waiter that timed out may have cancelled its future
                future.set_result(None)

    def when_idle(self) -> concurrent.futures.Future[None] | None:
        """A future that ends once no job is unsettled; ``None`` if none is now. After
        ``break_with(error)`` it has failed with ``error``."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._lock:
            error = self._error
            if error is None:
                if self._count == 0:
                    return None
                self._waiters.append(future)
                return future
        future.set_exception(error)
        return future

    def break_with(self, error: BaseException) -> None:
        """The count cannot be trusted any more: every waiter, now and later, gets ``error``."""
        with self._lock:
            self._error = error
            woken, self._waiters = self._waiters, []
        for future in woken:
            if not future.done():
                future.set_exception(error)
