"""One call at a time per key in a process, its result shared by whoever asks meanwhile.

Hundreds of Pylo workers of one process ask the store the same question at the same moment (a
listing of ``taken/`` at the end of a run, a look for the cancel marker when they start
together): one of them asks, the others wait for its answer. A waiter gets the answer of the
call under way, which began at most that call's duration before it asked: callers share only
questions whose answer may be that old (a listing that misses the newest name, a look for the
cancel marker a moment late).
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SharedCalls"]

T = TypeVar("T")


class SharedCalls(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[Hashable, concurrent.futures.Future[T]] = {}

    def call(self, key: Hashable, fn: Callable[[], T]) -> T:
        """``fn()``, or the result of the call of ``key`` under way; its error is raised to all."""
        with self._lock:
            running = self._running.get(key)
            if running is None:
                mine: concurrent.futures.Future[T] = concurrent.futures.Future()
                self._running[key] = mine
        if running is not None:
            return running.result()
        try:
            mine.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - the waiters get it too, then it is raised here
            mine.set_exception(exc)
        finally:
            with self._lock:
                del self._running[key]
        return mine.result()
