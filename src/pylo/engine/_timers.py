"""The engine's time, injected: wall time to evaluate conditions, and one-shot timers.

Conditions ask ``time()``; the engine arms at most one timer per pending job with ``call_at``.
Tests pass a clock they advance by hand, so time conditions are tested without sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["EngineClock", "LoopClock", "TimerHandle"]


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class EngineClock(Protocol):
    """``time()``: epoch seconds. ``call_at(when, callback)``: call ``callback()`` once, at or
    after ``when``, from any thread (the engine hands the call over to its own loop)."""

    def time(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle: ...


class LoopClock:
    """The real clock, with timers on the engine's event loop (call ``call_at`` on that loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @staticmethod
    def time() -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        return self._loop.call_later(max(0.0, when - time.time()), callback)
