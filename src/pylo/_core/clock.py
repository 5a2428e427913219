"""Time, injected: logic asks a clock, tests hand it one they advance themselves."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock. Stateless, so it pickles to Dask workers."""

    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)
