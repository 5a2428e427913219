"""Clocks that tests hand to the store (``Store(url, clock=...)``): time becomes a number the test
sets, so a lease expires, or a wait runs out, without waiting for it."""

from __future__ import annotations

import threading
import time


class ManualClock:
    """Wall and monotonic time that move only when something sleeps on this clock (it returns at
    once) or the test calls ``advance``. Starts at the real wall time, so leases written by
    threads that use it stay comparable with those a real clock wrote just before."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start
        self.slept = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        self.slept += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class LaterClock:
    """The real clock, read ``offset`` seconds later: a client that comes that much later sees the
    store as it will be then (a lease nobody renews has expired; one still renewed has not)."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def time(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
