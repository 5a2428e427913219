"""Time, injected: logic asks a clock, tests hand it one they advance themselves."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "SystemClock", "WallClock"]


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock(Clock, Protocol):
    """A clock that also tells the wall time: leases in the store carry it, so that another host
    can judge whether they expired."""

    def time(self) -> float: ...


class SystemClock:
    """The real clock. Stateless, so it pickles to Dask workers."""

    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)
    time = staticmethod(time.time)
