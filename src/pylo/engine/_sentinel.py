"""Jobs that submit jobs: ``SentinelJob`` submits a new job each time its condition holds,
``CronJob`` does it on a schedule (``EveryPeriod``, clock and weekday windows).

A sentinel is a ``LocalJob`` whose coroutine sleeps until its condition's next deadline (no
polling for time conditions; a condition that declares nothing is re-checked every
``time_delta``), submits a job, and starts over. It owns the one piece of state a schedule needs,
when each ``EveryPeriod`` last fired, so conditions stay pure. Cancel the sentinel to stop it;
jobs it already submitted run on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from .._core.status import Status
from ..conditions import AfterClock, AfterTimepoint, AfterWeekday, AllSatisfied, BeforeClock, BeforeTimepoint, BeforeWeekday, Condition, EveryPeriod
from ..errors import InvalidArgument
from ._checks import check_seconds
from ._job import Job, LocalJob, ProcessJob, ThreadJob, callable_name

__all__ = ["CronJob", "SentinelJob", "between_clock", "between_timepoint", "between_weekday"]

log = logging.getLogger("pylo.engine")

_KINDS: dict[str, type[Job]] = {"process": ProcessJob, "thread": ThreadJob, "local": LocalJob}


def _job_class(job_type: str | type[Job]) -> type[Job]:
    if isinstance(job_type, type) and issubclass(job_type, Job):
        return job_type
    if job_type in _KINDS:
        return _KINDS[job_type]
    raise InvalidArgument(f"job_type must be one of {sorted(_KINDS)} or a job class, got {job_type!r}")


class _Pacer:
    """The context a sentinel evaluates its condition in: the engine's, plus the schedule."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.started = float(engine.time())
        self.last: dict[EveryPeriod, float] = {}
        self.due: set[EveryPeriod] = set()

    def job_status(self, job_id: str) -> Status | None:
        status: Status | None = self.engine.job_status(job_id)
        return status

    def time(self) -> float:
        return float(self.engine.time())

    def _next(self, cond: EveryPeriod) -> float:
        if cond in self.last:
            return float(self.last[cond] + cond.seconds)
        return float(self.started if cond.immediate else self.started + cond.seconds)

    def period_due(self, cond: EveryPeriod) -> bool:
        due = self.time() >= self._next(cond)
        if due:
            self.due.add(cond)
        return due

    def period_deadline(self, cond: EveryPeriod) -> float:
        return self._next(cond)

    def fired(self) -> None:
        """The job was submitted: each period that was due starts again now (as in
        executor-engine, a period is the least time between two submissions)."""
        now = self.time()
        for cond in self.due:
            self.last[cond] = now
        self.due.clear()


class _SentinelJob(LocalJob):
    """A sentinel: see the module docstring."""

    def __init__(self, make: Callable[[], Job], condition: Condition, time_delta: float, **options: Any) -> None:
        if not isinstance(condition, Condition):
            raise InvalidArgument(f"a sentinel needs a pylo.conditions.Condition, got {condition!r}")
        self.make, self.sentinel_condition = make, condition
        self.time_delta = check_seconds("time_delta", time_delta, positive=True)
        super().__init__(self._watch, **options)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [*super()._repr_fields(), ("sentinel_condition", self.sentinel_condition)]

    async def _watch(self) -> None:
        engine = self.engine
        pacer = _Pacer(engine)
        cond = self.sentinel_condition
        while True:
            pacer.due.clear()
            if cond.satisfy(pacer):
                job = self.make()
                engine.submit(job)
                pacer.fired()
                log.debug("sentinel %s submitted job %s", self.id, job.id)
                if _paced(cond):
                    await asyncio.sleep(0)  # let the loop breathe; the period now waits
                else:
                    await engine.sleep_until(pacer.time() + self.time_delta)
                continue
            wait = _wait(cond, pacer, self.time_delta)
            if wait is None:
                return  # the condition can never hold again (a timepoint passed)
            await engine.sleep_until(pacer.time() + wait)


def _paced(cond: Condition) -> bool:
    """Whether ``cond`` includes an ``EveryPeriod`` (which turns false as soon as it fired)."""
    if isinstance(cond, EveryPeriod):
        return True
    return any(_paced(part) for part in getattr(cond, "conditions", ()))


def _wait(cond: Condition, pacer: _Pacer, time_delta: float) -> float | None:
    if cond.job_ids() != frozenset():
        return time_delta  # it depends on jobs, or does not say: look again soon
    deadline = cond.deadline(pacer)
    if deadline is None:
        return None
    return max(0.0, deadline - pacer.time())


def SentinelJob(  # noqa: N802 - executor-engine's name: a function making a job
    func: Callable[..., Any],
    sentinel_condition: Condition,
    job_type: str | type[Job] = "process",
    time_delta: float = 0.01,
    sentinel_attrs: dict[str, Any] | None = None,
    **attrs: Any,
) -> Job:
    """A ``LocalJob`` that submits ``job_type(func, **attrs)`` each time ``sentinel_condition``
    holds (``job_type``: ``"process"``, ``"thread"``, ``"local"`` or a job class);
    ``sentinel_attrs`` are the sentinel job's own options."""
    kind = _job_class(job_type)
    options = {"name": f"sentinel-{callable_name(func)}", **(sentinel_attrs or {})}
    return _SentinelJob(lambda: kind(func, **attrs), sentinel_condition, time_delta, **options)


def CronJob(  # noqa: N802 - executor-engine's name
    func: Callable[..., Any],
    time_condition: Condition,
    job_type: str | type[Job] = "process",
    time_delta: float = 0.01,
    sentinel_attrs: dict[str, Any] | None = None,
    **attrs: Any,
) -> Job:
    """A sentinel that submits ``func`` on a schedule: ``CronJob(f, EveryPeriod("1h"))``,
    ``CronJob(f, EveryPeriod("1d") & between_weekday("mon", "fri"))``."""
    options = {"name": f"cron-sentinel-{callable_name(func)}", **(sentinel_attrs or {})}
    return SentinelJob(func, time_condition, job_type, time_delta, options, **attrs)


def between_clock(start: str, end: str) -> AllSatisfied:
    return AllSatisfied([BeforeClock(end), AfterClock(start)])


def between_weekday(start: str, end: str) -> AllSatisfied:
    return AllSatisfied([BeforeWeekday(end), AfterWeekday(start)])


def between_timepoint(start: dt.datetime | float, end: dt.datetime | float) -> AllSatisfied:
    return AllSatisfied([BeforeTimepoint(end), AfterTimepoint(start)])
