"""One run of a job, as the scheduler sees it: its future and its run-time state.

A ``Job`` is the user's description of the work. Each run of it (the first, and every re-run)
has a ``JobState``, written only by the scheduler on the engine's loop thread; the job's public
API (``job.status``, ``job.result()``, ``job.attempts``…) reads the state of its current run.

    Job (what to run) ──_state──► JobState (status, outcome, attempts, the attempt's handle…)
                                     └── future: JobFuture ──► result / exception, callbacks

This module knows of a job only what a run needs of it (``RunOwner``: its id, name and engine),
so that ``_job`` builds on it and it never imports ``_job``: ``JobState`` and ``JobFuture`` are
generic in the job.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import inspect
import logging
from collections.abc import Callable, Generator
from typing import Any, Generic, Protocol, TypeVar

from .._core.status import Status
from ..errors import JobCancelled
from ._checks import check_timeout

__all__ = ["JobFuture", "JobState", "RunOwner", "call_hook"]

log = logging.getLogger("pylo.engine")


class RunOwner(Protocol):
    """What a run needs of its job: names for the log, and the engine it was submitted to (to
    cancel through, and to run an ``async def`` callback on)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def engine(self) -> Any: ...


J = TypeVar("J", bound=RunOwner)


@dataclasses.dataclass(eq=False)
class JobState(Generic[J]):
    """The run-time state of one run of a job. The scheduler's alone to change."""

    future: JobFuture[J]
    status: Status = Status.PENDING
    result: Any = None  # the value once done; a generator job's wrapper from the moment it runs
    error: BaseException | None = None
    cancel_reason: str | None = None
    attempts: int = 0  # attempts started in this run
    submitted: float | None = None
    started: float | None = None  # when its latest attempt started
    stopped: float | None = None
    handle: Any = None  # what stops the running attempt: a pool handle, a process, a Dask future…
    token: int = 0  # the number of the current attempt: reports of an older one are dropped
    gated: bool = False  # its gate passed: it is ready, running, or waiting to be retried
    compiled: bool = False  # a Dask job whose gate the Dask scheduler holds
    timer: Any = None  # its one timer: a deadline, a poll, or a retry
    spec: bytes | None = None  # its pickled constructor arguments, for its record

    @classmethod
    def fresh(cls, job: J) -> JobState[J]:
        """The state of a run not started yet."""
        return cls(JobFuture(job))


class JobFuture(Generic[J]):
    """The future of one run of a job; ``job`` is the job. Pass it as another job's argument to
    make that job run with this one's result.

    ``result(timeout)`` and ``exception(timeout)`` wait, like ``concurrent.futures``; as in
    executor-engine, ``add_done_callback(fn)`` calls ``fn(result)`` once the job is done and
    ``add_error_callback(fn)`` calls ``fn(exception)`` once it has failed (at once if it already
    has), on the engine's loop thread."""

    def __init__(self, job: J) -> None:
        self.job = job
        self._cf: concurrent.futures.Future[Any] = concurrent.futures.Future()

    @property
    def job_id(self) -> str:
        return self.job.id

    def __repr__(self) -> str:
        return f"<JobFuture of {self.job!r}>"

    def result(self, timeout: float | None = None) -> Any:
        return self._cf.result(check_timeout(timeout))

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self._cf.exception(check_timeout(timeout))

    def done(self) -> bool:
        return self._cf.done()

    def cancel(self) -> bool:
        """Cancel the job itself (through its engine); False once it has ended."""
        engine = self.job.engine
        if self.done() or engine is None or not engine.running:
            return False
        return bool(engine.cancel(self.job, reason="cancelled through its future"))

    def add_done_callback(self, fn: Callable[[Any], object]) -> None:
        self._cf.add_done_callback(functools.partial(_on_success, self.job, fn))

    def add_error_callback(self, fn: Callable[[BaseException], object]) -> None:
        self._cf.add_done_callback(functools.partial(_on_failure, self.job, fn))

    def __await__(self) -> Generator[Any, None, Any]:
        return asyncio.wrap_future(self._cf).__await__()


def _on_success(job: RunOwner, fn: Callable[[Any], object], cf: concurrent.futures.Future[Any]) -> None:
    if not cf.cancelled() and cf.exception() is None:
        call_hook(job, fn, cf.result())


def _on_failure(job: RunOwner, fn: Callable[[BaseException], object], cf: concurrent.futures.Future[Any]) -> None:
    error = None if cf.cancelled() else cf.exception()
    if error is not None and not isinstance(error, JobCancelled):
        call_hook(job, fn, error)


def call_hook(job: RunOwner, hook: Callable[[Any], object] | None, value: Any) -> None:
    """Call a user's callback; an ``async def`` one is run as a task on the engine's loop (or
    the running loop). Whatever it raises is logged and changes nothing about the job."""
    if hook is None:
        return
    try:
        out = hook(value)
        if inspect.isawaitable(out):
            engine = job.engine
            loop = engine.loop if engine is not None and engine.running else asyncio.get_running_loop()
            task = asyncio.run_coroutine_threadsafe(_awaited(out), loop)
            task.add_done_callback(functools.partial(_log_hook_failure, job))
    except Exception:  # noqa: BLE001 - a callback's failure never changes the job
        log.exception("callback of job %s (%s) raised; the job keeps its status", job.name, job.id)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _log_hook_failure(job: RunOwner, cf: concurrent.futures.Future[Any]) -> None:
    if not cf.cancelled() and cf.exception() is not None:
        log.error("async callback of job %s (%s) raised %r; the job keeps its status", job.name, job.id, cf.exception())
