"""The checks of the engine's numeric options: the rules of every pylo option
(``pylo._core.config``), one implementation, which refuses bools, NaN, infinities and values out
of range with an ``InvalidArgument`` that names the option."""

from __future__ import annotations

import math
from typing import Any

from .._core.config import MAX_SECONDS, _check_float, _check_int

__all__ = ["check_count", "check_number", "check_seconds", "check_timeout"]


def check_count(what: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    """``value`` when it is an int in range, else ``InvalidArgument`` (a bool is refused)."""
    _check_int(what, value, minimum=minimum, maximum=maximum)
    return int(value)


def check_number(what: str, value: Any, *, minimum: float = 0.0, maximum: float = math.inf, positive: bool = False) -> float:
    """``value`` as a float when it is a finite real number in range, else ``InvalidArgument``."""
    _check_float(what, value, minimum=minimum, maximum=maximum, positive=positive)
    return float(value)


def check_seconds(what: str, value: Any, *, positive: bool = False) -> float:
    """A duration usable as a timer or a wait: finite, >= 0, at most ``MAX_SECONDS``."""
    return check_number(what, value, maximum=MAX_SECONDS, positive=positive)


def check_timeout(timeout: Any) -> float | None:
    """A wait's ``timeout``: ``None`` (no limit) or seconds (``check_seconds``)."""
    return None if timeout is None else check_seconds("timeout", timeout)
