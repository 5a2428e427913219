"""Time, injected: logic asks a clock, tests hand it one they advance themselves."""

from __future__ import annotations

import datetime as _dt
import time
from typing import Literal, Protocol

__all__ = ["Clock", "SystemClock", "WallClock", "utc_text"]


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


def utc_text(
    epoch: float | None = None, *, timespec: Literal["seconds", "milliseconds"] = "milliseconds", zulu: bool = False
) -> str:
    """``epoch`` (seconds since the epoch; ``None``: now) as ISO 8601 UTC text, the one way pylo
    writes a time: ``2026-12-07T12:45:37.123+00:00``, or ``…Z`` with ``zulu``. Raises
    ``OverflowError``, ``OSError`` or ``ValueError`` for a time the platform cannot represent."""
    moment = _dt.datetime.fromtimestamp(time.time() if epoch is None else epoch, _dt.timezone.utc)
    text = moment.isoformat(timespec=timespec)
    return text.removesuffix("+00:00") + "Z" if zulu else text
