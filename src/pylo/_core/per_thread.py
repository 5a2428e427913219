"""A value per thread, without ``threading.local``.

On Python 3.11, when the garbage collector frees a ``threading.local`` while a thread reads every
thread's frame (``sys._current_frames``: Dask's profiler does, every 10 ms on each worker), the
interpreter deadlocks: both want the runtime's list of threads (CPython gh-106883, fixed only in
3.12). Objects that hold one and live in reference cycles, as a ``Pylo`` does, are freed by the
collector, at any allocation of any thread. A suite run hung there twice. So values are kept in a
plain dict by thread id: freeing it takes no interpreter lock.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

__all__ = ["PerThread"]

T = TypeVar("T")


class PerThread(Generic[T]):
    """This thread's value, ``None`` until it sets one. The values of threads that ended are let
    go at the next ``set`` (a new thread may reuse an ended one's id: it sets its own first)."""

    def __init__(self) -> None:
        self._values: dict[int, T] = {}
        self._lock = threading.Lock()

    def get(self) -> T | None:
        return self._values.get(threading.get_ident())

    def set(self, value: T | None) -> None:
        with self._lock:
            alive = {thread.ident for thread in threading.enumerate()}
            for ended in [ident for ident in self._values if ident not in alive]:
                del self._values[ended]
            if value is None:
                self._values.pop(threading.get_ident(), None)
            else:
                self._values[threading.get_ident()] = value
