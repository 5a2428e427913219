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
from collections.abc import Iterable
from typing import Any, Protocol

from ._core.status import SETTLED, Status
from .errors import InvalidArgument

__all__ = [
    "AfterAnother",
    "AfterClock",
    "AfterOthers",
    "AfterTimepoint",
    "AllSatisfied",
    "AnySatisfied",
    "Condition",
    "ConditionContext",
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
        if isinstance(timepoint, dt.datetime):
            value = timepoint.timestamp()
        elif isinstance(timepoint, (int, float)) and not isinstance(timepoint, bool):
            value = float(timepoint)
        else:
            raise InvalidArgument(f"timepoint must be a datetime or epoch seconds, got {timepoint!r}")
        object.__setattr__(self, "timestamp", value)

    def satisfy(self, engine: ConditionContext) -> bool:
        return engine.time() >= self.timestamp

    def job_ids(self) -> frozenset[str]:
        return frozenset()

    def deadline(self, ctx: ConditionContext) -> float | None:
        return None if ctx.time() >= self.timestamp else self.timestamp

    def __repr__(self) -> str:
        when = dt.datetime.fromtimestamp(self.timestamp, dt.timezone.utc)
        return f"AfterTimepoint({when.strftime('%Y-%m-%dT%H:%M:%S')}Z)"


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

    def _today(self, ctx: ConditionContext) -> tuple[dt.datetime, dt.datetime]:
        now = dt.datetime.fromtimestamp(ctx.time(), self.tz)
        start = now.replace(hour=self.clock.hour, minute=self.clock.minute, second=self.clock.second, microsecond=0)
        return now, start

    def satisfy(self, engine: ConditionContext) -> bool:
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
    try:
        parts = [int(p) for p in str(clock).split(":")]
        if len(parts) not in (2, 3):
            raise ValueError
        return dt.time(parts[0], parts[1], parts[2] if len(parts) == 3 else 0)
    except ValueError:
        raise InvalidArgument(f"clock must be 'HH:MM' or 'HH:MM:SS', got {clock!r}") from None


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
