"""Engine test helpers: a clock advanced by hand, and job functions pickled by value."""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import cloudpickle
import pytest

import engine_tasks

cloudpickle.register_pickle_by_value(engine_tasks)


class ManualClock:
    """Wall time that moves only when ``advance`` is called; timers fire then (on the caller's
    thread; the engine hands them over to its loop)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self._timers: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(when, callback)
        with self._lock:
            heapq.heappush(self._timers, (when, next(self._seq), timer))
        return timer

    def armed(self) -> list[float]:
        """The times of the timers not cancelled nor fired yet."""
        with self._lock:
            return sorted(t.when for _, _, t in self._timers if not t.cancelled)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while True:
            with self._lock:
                if not self._timers or self._timers[0][0] > self.now:
                    return
                _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.callback()


class _Timer:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when, self.callback = when, callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def engine() -> Iterator[Any]:
    from pylo.engine import Engine

    with Engine() as eng:
        yield eng
