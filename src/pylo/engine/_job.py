"""A job: a call, its status, its future, and how it runs (one subclass per kind).

The engine owns every status change; a job kind only knows how to *begin* an attempt and how to
*stop* a running one, and reports each attempt's ``Outcome`` back through the runtime it is given.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import os
import random
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .._status import Status
from ..conditions import Condition
from ..errors import InvalidArgument
from ._outcome import Outcome, outcome_of

if TYPE_CHECKING:
    from ._process_pool import ProcessPool
    from ._thread_pool import ThreadPool

__all__ = ["Job", "JobFuture", "LocalJob", "ProcessJob", "Runtime", "ThreadJob"]


# Job ids: 128 random bits from a generator of our own (``uuid4`` costs a system call per job;
# the ``random`` module's global state may be seeded by users), reseeded in forked children.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def new_job_id() -> str:
    """32 hex digits, unique with overwhelming probability."""
    return f"{_ids.getrandbits(128):032x}"


class JobFuture(concurrent.futures.Future[Any]):
    """The future of one run of a job; ``job`` is the job. Pass it as another job's argument to
    make that job run with this one's result."""

    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job

    def cancel(self) -> bool:
        """Cancel the job itself (through its engine); False once it has ended."""
        engine = self.job._engine
        if self.done() or engine is None or not engine.running:
            return super().cancel()
        return bool(engine.cancel(self.job, "cancelled through its future"))


class Runtime(Protocol):
    """What the engine lends a job kind to run an attempt."""

    loop: asyncio.AbstractEventLoop

    def thread_pool(self) -> ThreadPool: ...

    def process_pool(self) -> ProcessPool: ...

    def dask_client(self) -> Any: ...

    def report(self, job: Job, token: int, outcome: Outcome) -> None:
        """The attempt ``token`` of ``job`` ended (callable from any thread)."""


class Job:
    """A call to run under an engine. ``func(*args, **kwargs)`` may be any callable (functions,
    ``functools.partial``, callable objects). Keyword options:

    - ``condition`` — a ``pylo.conditions.Condition`` that must hold before the job starts;
    - ``retries``, ``retry_delay``, ``retry_backoff``, ``retry_max_delay`` — the n-th retry of a
      failed attempt waits ``min(retry_delay * retry_backoff**(n-1), retry_max_delay)`` seconds;
    - ``callback(result)`` / ``error_callback(exception)`` — called once the job is done / failed
      for good, on the engine's loop thread (keep them short; they may submit jobs, not wait);
      whatever they raise is logged and changes nothing;
    - ``wait_time_delta`` — how often a custom condition that declares nothing is re-checked.

    Raises ``InvalidArgument`` for a bad option.
    """

    kind: ClassVar[str] = "job"
    # set by the engine when the job is submitted: its upstream jobs, its serialized spec
    _ups: list[Job]
    _spec_blob: bytes | None

    def __init__(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...] | list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        *,
        callback: Callable[[Any], object] | None = None,
        error_callback: Callable[[BaseException], object] | None = None,
        retries: int = 0,
        retry_delay: float = 0.0,
        retry_backoff: float = 1.0,
        retry_max_delay: float = 3600.0,
        name: str | None = None,
        condition: Condition | None = None,
        wait_time_delta: float = 0.01,
    ) -> None:
        if not callable(func):
            raise InvalidArgument(f"func must be callable, got {type(func).__name__}")
        _check_options(retries, retry_delay, retry_backoff, retry_max_delay, wait_time_delta)
        if condition is not None and not isinstance(condition, Condition):
            raise InvalidArgument(f"condition must be a pylo.conditions.Condition, got {condition!r}")
        self.func = func
        self.args = tuple(args or ())
        self.kwargs = dict(kwargs or {})
        self.callback, self.error_callback = callback, error_callback
        self.retries, self.retry_delay = retries, retry_delay
        self.retry_backoff, self.retry_max_delay = retry_backoff, retry_max_delay
        self.name = name or callable_name(func)
        self.condition = condition
        self.wait_time_delta = wait_time_delta
        self.id = new_job_id()
        self.created = time.time()
        self.submitted: float | None = None
        self.started: float | None = None
        self.stopped: float | None = None
        self.attempts = 0
        self.error: BaseException | None = None
        self.cancel_reason: str | None = None
        self._status = Status.PENDING
        self._result: Any = None
        self._future = JobFuture(self)
        self._engine: Any = None
        # run-time bookkeeping, owned by the engine's loop
        self._token = 0
        self._gated = False
        self._timer: Any = None
        self._handle: Any = None
        self._dask_future: Any = None
        self._compiled = False

    def __repr__(self) -> str:
        cond = f" condition={self.condition!r}" if self.condition is not None else ""
        return f"<{type(self).__name__} {self.name!r} {self.id[:8]} {self._status.value}{cond}>"

    # -- what users read -----------------------------------------------------------------------

    @property
    def status(self) -> Status:
        return self._status

    @property
    def future(self) -> JobFuture:
        """The future of the job's current run (a re-run gets a new one)."""
        return self._future

    def result(self, timeout: float | None = None) -> Any:
        """The job's result, waiting for it; raises its exception, ``JobCancelled`` or
        ``TimeoutError``."""
        return self._future.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self._future.exception(timeout)

    def done(self) -> bool:
        return self._future.done()

    def __await__(self) -> Generator[Any, None, Any]:
        return asyncio.wrap_future(self._future).__await__()

    # -- what kinds implement ------------------------------------------------------------------

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> None:
        """Start attempt ``token`` of ``call``; report its outcome through ``rt.report``."""
        raise NotImplementedError

    def _stop(self, rt: Runtime) -> None:
        """Stop the running attempt, without blocking (best effort)."""

    def _spec(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Constructor arguments that rebuild this job (persisted when they pickle)."""
        return (self.func, self.args, self.kwargs), {
            "callback": self.callback,
            "error_callback": self.error_callback,
            "retries": self.retries,
            "retry_delay": self.retry_delay,
            "retry_backoff": self.retry_backoff,
            "retry_max_delay": self.retry_max_delay,
            "name": self.name,
            "condition": self.condition,
            "wait_time_delta": self.wait_time_delta,
        }

    def _retry_wait(self) -> float:
        """Seconds before the next retry, after ``attempts`` failed attempts."""
        delay = self.retry_delay * self.retry_backoff ** max(0, self.attempts - 1)
        return float(min(delay, self.retry_max_delay))


def _check_options(retries: int, delay: float, backoff: float, max_delay: float, wait: float) -> None:
    if not isinstance(retries, int) or retries < 0:
        raise InvalidArgument(f"retries must be an integer >= 0, got {retries!r}")
    if delay < 0 or max_delay < 0:
        raise InvalidArgument(f"retry_delay and retry_max_delay must be >= 0, got {delay!r}, {max_delay!r}")
    if backoff < 1:
        raise InvalidArgument(f"retry_backoff must be >= 1, got {backoff!r}")
    if wait <= 0:
        raise InvalidArgument(f"wait_time_delta must be > 0, got {wait!r}")


def callable_name(func: Any) -> str:
    """A readable name for any callable: a function's name, a partial's function, a class name."""
    while isinstance(func, functools.partial):
        func = func.func
    return str(getattr(func, "__name__", None) or type(func).__name__)


class LocalJob(Job):
    """Runs on the engine's own loop: for quick calls. An ``async def`` function is awaited there."""

    kind = "local"

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> None:
        rt.loop.call_soon(self._run, rt, call, token)

    def _run(self, rt: Runtime, call: Callable[[], Any], token: int) -> None:
        outcome = outcome_of(call)
        if outcome.status == "done" and inspect.isawaitable(outcome.value):
            task = asyncio.ensure_future(outcome.value)
            self._handle = task
            task.add_done_callback(lambda t: None if t.cancelled() else rt.report(self, token, _task_outcome(t)))
            return
        rt.report(self, token, outcome)

    def _stop(self, rt: Runtime) -> None:
        if isinstance(self._handle, asyncio.Future):
            self._handle.cancel()


def _task_outcome(task: asyncio.Future[Any]) -> Outcome:
    exc = task.exception()
    return Outcome("done", task.result()) if exc is None else Outcome("failed", exc)


class ThreadJob(Job):
    """Runs on the engine's shared thread pool. Cancelling a running one frees its slot at once;
    the thread itself ends when the call returns (Python cannot stop a thread)."""

    kind = "thread"

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> None:
        self._handle = rt.thread_pool().submit(functools.partial(_run_sync, call), functools.partial(rt.report, self, token))

    def _stop(self, rt: Runtime) -> None:
        if self._handle is not None:
            rt.thread_pool().detach(self._handle)


def _run_sync(call: Callable[[], Any]) -> Any:
    value = call()
    if inspect.iscoroutine(value):
        return asyncio.run(value)
    return value


class ProcessJob(Job):
    """Runs in a worker process of the engine's shared process pool (function and arguments are
    cloudpickled). Cancelling a running one kills its process; the pool replaces it."""

    kind = "process"

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> None:
        self._handle = rt.process_pool().submit(call, functools.partial(rt.report, self, token))

    def _stop(self, rt: Runtime) -> None:
        if self._handle is not None:
            rt.process_pool().kill(self._handle)
