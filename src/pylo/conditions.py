"""Conditions that gate when a pending job may start: small predicates that compose with ``&``/``|``.

A condition is a pure function of a *context*: the statuses of jobs and the time, both asked of
the context (the engine, or a stand-in in tests), never read from globals, and it changes nothing
when evaluated. Besides its answer, each condition declares what can change that answer:

- ``job_ids()`` — the jobs whose status changes may flip it (``None``: it does not say, so the
  engine re-checks it every ``wait_time_delta``, as executor-engine did for custom conditions);
- ``deadline(ctx)`` — the next time (epoch seconds) at which time alone may flip it, or ``None``.

The engine therefore wakes a pending job only when a job it names changes status, or at its one
deadline: no polling. A condition that is false, declares no deadline and names only settled jobs
can never become true; the engine cancels its job and says why.

    >>> cond = AfterAnother("a1b2") & AfterTimepoint(1_900_000_000.0)
    >>> cond
    AllSatisfied(AfterAnother('a1b2', statuses=cancelled|done|failed), AfterTimepoint(2030-03-17T17:46:40Z))
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from collections.abc import Iterable
from typing import Any, Protocol

from . import _clock
from ._core.status import SETTLED, Status
from .errors import InvalidArgument

__all__ = [
    "AfterAnother",
    "AfterClock",
    "AfterOthers",
    "AfterTimepoint",
    "AfterWeekday",
    "AllSatisfied",
    "AnySatisfied",
    "BeforeClock",
    "BeforeTimepoint",
    "BeforeWeekday",
    "Condition",
    "ConditionContext",
    "EveryPeriod",
    "parse_clock",
    "parse_period",
    "parse_weekday",
]


class ConditionContext(Protocol):
    """What a condition may ask: a job's status (``None`` when unknown) and the time (epoch s)."""

    def job_status(self, job_id: str) -> Status | None: ...

    def time(self) -> float: ...


class Condition:
    """Base of every condition. Subclasses override ``satisfy``; built-ins also declare
    ``job_ids`` and ``deadline`` so the engine never has to poll them."""

    def satisfy(self, engine: Any) -> bool:
        """Whether a job gated by this condition may start now. Must not change any state."""
        raise NotImplementedError

    def job_ids(self) -> frozenset[str] | None:
        """Jobs whose status changes may change the answer; ``None`` when undeclared (polled)."""
        return None

    def deadline(self, ctx: ConditionContext) -> float | None:
        """The next epoch time at which the answer may change by time alone, or ``None``."""
        return None

    def __and__(self, other: Condition) -> AllSatisfied:
        return AllSatisfied(_flatten(AllSatisfied, (self, other)))

    def __or__(self, other: Condition) -> AnySatisfied:
        return AnySatisfied(_flatten(AnySatisfied, (self, other)))


def _flatten(kind: type[_Combination], parts: Iterable[Condition]) -> tuple[Condition, ...]:
    out: list[Condition] = []
    for part in parts:
        if not isinstance(part, Condition):
            raise InvalidArgument(f"cannot combine a condition with {part!r}")
        out.extend(part.conditions if isinstance(part, kind) and type(part) is kind else (part,))
    return tuple(out)


def _now(ctx: ConditionContext | None) -> float:
    """The context's time; a time condition asked with no context (``satisfy(None)``, as
    executor-engine allows) reads the wall clock."""
    return time.time() if ctx is None else ctx.time()


def _job_id(job: Any) -> str:
    """A job id from an id or from anything with an ``id`` (a job)."""
    value = getattr(job, "id", job)
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"expected a job or a job id, got {job!r}")
    return value


def _statuses(values: Iterable[Status | str]) -> frozenset[Status]:
    if isinstance(values, (str, Status)):
        values = (values,)
    try:
        out = frozenset(Status(v) for v in values)
    except ValueError as exc:
        raise InvalidArgument(f"statuses: {exc}; known: {[s.value for s in Status]}") from exc
    if not out:
        raise InvalidArgument("statuses must name at least one status")
    return out


def _show(statuses: frozenset[Status]) -> str:
    return "|".join(sorted(s.value for s in statuses))


@dataclasses.dataclass(frozen=True, init=False, eq=True)
class AfterAnother(Condition):
    """True once job ``job_id`` has one of ``statuses`` (default: any settled status)."""

    job_id: str
    statuses: frozenset[Status]

    def __init__(self, job_id: Any, statuses: Iterable[Status | str] = SETTLED) -> None:
        object.__setattr__(self, "job_id", _job_id(job_id))
        object.__setattr__(self, "statuses", _statuses(statuses))

    def satisfy(self, engine: ConditionContext) -> bool:
        return engine.job_status(self.job_id) in self.statuses

    def job_ids(self) -> frozenset[str]:
        return frozenset({self.job_id})

    def __repr__(self) -> str:
        return f"AfterAnother({self.job_id!r}, statuses={_show(self.statuses)})"


@dataclasses.dataclass(frozen=True, init=False, eq=True)
class AfterOthers(Condition):
    """True once all (``mode="all"``) or any (``mode="any"``) of ``job_ids`` have one of
    ``statuses``."""

    ids: tuple[str, ...]
    statuses: frozenset[Status]
    mode: str

    def __init__(
        self, job_ids: Iterable[Any], statuses: Iterable[Status | str] = SETTLED, mode: str = "all"
    ) -> None:
        if mode not in ("all", "any"):
            raise InvalidArgument(f"mode must be 'all' or 'any', got {mode!r}")
        ids = tuple(_job_id(j) for j in job_ids)
        if not ids:
            raise InvalidArgument("AfterOthers needs at least one job id")
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "statuses", _statuses(statuses))
        object.__setattr__(self, "mode", mode)

    def satisfy(self, engine: ConditionContext) -> bool:
        test = all if self.mode == "all" else any
        return test(engine.job_status(j) in self.statuses for j in self.ids)

    def job_ids(self) -> frozenset[str]:
        return frozenset(self.ids)

    def __repr__(self) -> str:
        return f"AfterOthers({list(self.ids)!r}, statuses={_show(self.statuses)}, mode={self.mode!r})"


@dataclasses.dataclass(frozen=True, init=False, eq=True)
class AfterTimepoint(Condition):
    """True from ``timepoint`` on: a ``datetime`` (naive means local time) or epoch seconds."""

    timestamp: float

    def __init__(self, timepoint: dt.datetime | float) -> None:
        object.__setattr__(self, "timestamp", _timestamp(timepoint))

    def satisfy(self, engine: ConditionContext | None) -> bool:
        return _now(engine) >= self.timestamp

    def job_ids(self) -> frozenset[str]:
        return frozenset()

    def deadline(self, ctx: ConditionContext) -> float | None:
        return None if ctx.time() >= self.timestamp else self.timestamp

    def __repr__(self) -> str:
        return f"AfterTimepoint({_utc(self.timestamp)})"


def _utc(timestamp: float) -> str:
    return _clock.utc_text(timestamp, timespec="seconds", zulu=True)


def _timestamp(timepoint: dt.datetime | float) -> float:
    if isinstance(timepoint, dt.datetime):
        return timepoint.timestamp()
    if isinstance(timepoint, (int, float)) and not isinstance(timepoint, bool) and timepoint == timepoint:
        return float(timepoint)
    raise InvalidArgument(f"timepoint must be a datetime or epoch seconds, got {timepoint!r}")


@dataclasses.dataclass(frozen=True, init=False, eq=True)
class BeforeTimepoint(Condition):
    """True until ``timepoint`` (a ``datetime``, naive means local time, or epoch seconds); once
    it has passed it never holds again, so a job still waiting on it is cancelled."""

    timestamp: float

    def __init__(self, timepoint: dt.datetime | float) -> None:
        object.__setattr__(self, "timestamp", _timestamp(timepoint))

    def satisfy(self, engine: ConditionContext | None) -> bool:
        return _now(engine) < self.timestamp

    def job_ids(self) -> frozenset[str]:
        return frozenset()

    def __repr__(self) -> str:
        return f"BeforeTimepoint({_utc(self.timestamp)})"


@dataclasses.dataclass(frozen=True, init=False, eq=True)
class AfterClock(Condition):
    """True from a time of day (``"HH:MM"`` or ``"HH:MM:SS"``) until midnight, every day, in
    ``tz`` (default: local time). Compares whole times of day: ``AfterClock("12:30")`` holds at
    13:10 and at 12:30:00, not at 12:29:59."""

    clock: dt.time
    tz: dt.tzinfo | None

    def __init__(self, clock: str | dt.time, tz: dt.tzinfo | None = None) -> None:
        object.__setattr__(self, "clock", _parse_clock(clock))
        object.__setattr__(self, "tz", tz)

    def _today(self, ctx: ConditionContext | None) -> tuple[dt.datetime, dt.datetime]:
        now = dt.datetime.fromtimestamp(_now(ctx), self.tz)
        start = now.replace(hour=self.clock.hour, minute=self.clock.minute, second=self.clock.second, microsecond=0)
        return now, start

    def satisfy(self, engine: ConditionContext | None) -> bool:
        now, start = self._today(engine)
        return now >= start

    def job_ids(self) -> frozenset[str]:
        return frozenset()

    def deadline(self, ctx: ConditionContext) -> float | None:
        now, start = self._today(ctx)
        return None if now >= start else start.timestamp()

    def __repr__(self) -> str:
        zone = "" if self.tz is None else f", tz={self.tz}"
        return f"AfterClock({self.clock.isoformat()!r}{zone})"


def _parse_clock(clock: str | dt.time) -> dt.time:
    if isinstance(clock, dt.time):
        return clock.replace(microsecond=0, tzinfo=None)
    return dt.time(*parse_clock(clock))


def parse_clock(text: str) -> tuple[int, int, int]:
    """``"HH"``, ``"HH:MM"`` or ``"HH:MM:SS"`` as (hour, minute, second); ``InvalidArgument``
    (a ``ValueError``) otherwise."""
    try:
        parts = [int(p) for p in str(text).split(":")]
        if not 1 <= len(parts) <= 3:
            raise ValueError
        hour, minute, second = (*parts, 0, 0)[:3]
        dt.time(hour, minute, second)
        return hour, minute, second
    except ValueError:
        raise InvalidArgument(f"a clock time is 'HH', 'HH:MM' or 'HH:MM:SS', got {text!r}") from None


@dataclasses.dataclass(frozen=True, init=False, eq=True)
class BeforeClock(Condition):
    """True from midnight until a time of day (``"HH:MM[:SS]"``, included), every day, in ``tz``
    (default: local time). Compares whole times of day, like ``AfterClock``."""

    clock: dt.time
    tz: dt.tzinfo | None

    def __init__(self, clock: str | dt.time, tz: dt.tzinfo | None = None) -> None:
        object.__setattr__(self, "clock", _parse_clock(clock))
        object.__setattr__(self, "tz", tz)

    def satisfy(self, engine: ConditionContext | None) -> bool:
        now = dt.datetime.fromtimestamp(_now(engine), self.tz)
        return now.time().replace(microsecond=0) <= self.clock

    def job_ids(self) -> frozenset[str]:
        return frozenset()

    def deadline(self, ctx: ConditionContext) -> float | None:
        """False now: it holds again at the next midnight."""
        if self.satisfy(ctx):
            return None
        now = dt.datetime.fromtimestamp(ctx.time(), self.tz)
        return _next_midnight(now, days=1)

    def __repr__(self) -> str:
        zone = "" if self.tz is None else f", tz={self.tz}"
        return f"BeforeClock({self.clock.isoformat()!r}{zone})"


def _next_midnight(now: dt.datetime, days: int) -> float:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight + dt.timedelta(days=days)).timestamp()


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_weekday(text: str | int) -> int:
    """A weekday (``"mon"``, ``"monday"``, … or 0–6) as 0 (Monday) to 6 (Sunday)."""
    if isinstance(text, int) and not isinstance(text, bool) and 0 <= text <= 6:
        return text
    name = str(text).strip().lower()
    for number, day in enumerate(_WEEKDAYS):
        if name in (day, day[:3]):
            return number
    raise InvalidArgument(f"a weekday is one of {', '.join(d[:3] for d in _WEEKDAYS)} (or the full name), got {text!r}")


@dataclasses.dataclass(frozen=True, init=False, eq=True)
class _WeekdayWindow(Condition):
    """True on the days of the week that ``_holds`` accepts, in ``tz``; wakes at the next
    midnight at which the answer can change."""

    weekday: int
    tz: dt.tzinfo | None

    def __init__(self, weekday: str | int, tz: dt.tzinfo | None = None) -> None:
        object.__setattr__(self, "weekday", parse_weekday(weekday))
        object.__setattr__(self, "tz", tz)

    def _holds(self, day: int) -> bool:
        raise NotImplementedError

    def _days_to_change(self, day: int) -> int:
        raise NotImplementedError

    def satisfy(self, engine: ConditionContext | None) -> bool:
        return self._holds(dt.datetime.fromtimestamp(_now(engine), self.tz).weekday())

    def job_ids(self) -> frozenset[str]:
        return frozenset()

    def deadline(self, ctx: ConditionContext) -> float | None:
        now = dt.datetime.fromtimestamp(ctx.time(), self.tz)
        return None if self._holds(now.weekday()) else _next_midnight(now, self._days_to_change(now.weekday()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_WEEKDAYS[self.weekday][:3]!r})"


class AfterWeekday(_WeekdayWindow):
    """True from ``weekday`` (``"mon"``… ``"sun"``) to the end of the week (Sunday), in ``tz``."""

    def _holds(self, day: int) -> bool:
        return day >= self.weekday

    def _days_to_change(self, day: int) -> int:
        return self.weekday - day


class BeforeWeekday(_WeekdayWindow):
    """True from the start of the week (Monday) to ``weekday`` included, in ``tz``."""

    def _holds(self, day: int) -> bool:
        return day <= self.weekday

    def _days_to_change(self, day: int) -> int:
        return 7 - day


_PERIOD = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([dhms])\s*$")
_UNIT = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_period(text: str) -> dt.timedelta:
    """``"1d"``, ``"1.5h"``, ``"10m"``, ``"0.5s"`` as a ``timedelta``; ``InvalidArgument`` (a
    ``ValueError``) otherwise."""
    match = _PERIOD.match(str(text))
    if match is None or float(match.group(1)) <= 0:
        raise InvalidArgument(f"a period is a positive number and a unit of d, h, m or s (like '1.5h'), got {text!r}")
    return dt.timedelta(seconds=float(match.group(1)) * _UNIT[match.group(2)])


@dataclasses.dataclass(frozen=True, init=False, eq=True)
class EveryPeriod(Condition):
    """True once every ``period`` (``"1d"``, ``"1.5h"``, ``"10s"``…): it paces a ``CronJob`` or a
    ``SentinelJob``, which remembers when it last fired (the condition itself keeps no state).
    The first period ends one period after the sentinel starts, or at once with ``immediate``."""

    period: dt.timedelta
    immediate: bool

    def __init__(self, period_str: str, immediate: bool = False) -> None:
        object.__setattr__(self, "period", parse_period(period_str))
        object.__setattr__(self, "immediate", bool(immediate))

    @property
    def seconds(self) -> float:
        return self.period.total_seconds()

    def satisfy(self, engine: Any) -> bool:
        due = getattr(engine, "period_due", None)
        if due is None:
            raise InvalidArgument("EveryPeriod paces a CronJob or a SentinelJob; it cannot gate a single job")
        return bool(due(self))

    def job_ids(self) -> frozenset[str]:
        return frozenset()

    def deadline(self, ctx: ConditionContext) -> float | None:
        when = getattr(ctx, "period_deadline", None)
        return None if when is None else float(when(self))

    def __repr__(self) -> str:
        return f"EveryPeriod({self.seconds:g}s{', immediate' if self.immediate else ''})"


@dataclasses.dataclass(frozen=True, init=False, eq=True)
class _Combination(Condition):
    conditions: tuple[Condition, ...]

    def __init__(self, conditions: Iterable[Condition] = ()) -> None:
        parts = tuple(conditions)
        for part in parts:
            if not isinstance(part, Condition):
                raise InvalidArgument(f"{type(self).__name__} takes conditions, got {part!r}")
        object.__setattr__(self, "conditions", parts)

    def job_ids(self) -> frozenset[str] | None:
        ids: set[str] = set()
        for part in self.conditions:
            mine = part.job_ids()
            if mine is None:
                return None
            ids |= mine
        return frozenset(ids)

    def deadline(self, ctx: ConditionContext) -> float | None:
        times = [t for t in (part.deadline(ctx) for part in self.conditions) if t is not None]
        return min(times) if times else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(repr(c) for c in self.conditions)})"


class AllSatisfied(_Combination):
    """True when every one of ``conditions`` is (true when there are none)."""

    def satisfy(self, engine: Any) -> bool:
        return all(c.satisfy(engine) for c in self.conditions)


class AnySatisfied(_Combination):
    """True when at least one of ``conditions`` is (false when there are none)."""

    def satisfy(self, engine: Any) -> bool:
        return any(c.satisfy(engine) for c in self.conditions)
