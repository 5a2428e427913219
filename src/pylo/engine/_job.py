"""A job: the user's description of a call, and how it runs (one subclass per kind).

Its run-time state (status, outcome, attempts…) is the scheduler's: a ``JobState`` per run,
which the job's public API reads. A job kind only knows how to *begin* an attempt (returning
what stops it) and how to *stop* it, and reports each attempt's ``Outcome`` back through the
runtime it is given.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import logging
import os
import random
import time
from pathlib import Path
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .._core.decide import RetryPolicy
from .._core.status import Status
from ..conditions import AfterOthers, AllSatisfied, Condition
from ..errors import ArgumentTypeError, InvalidArgument, InvalidStateError
from ._checks import check_count, check_number, check_seconds, check_timeout
from ._generators import AsyncJobGenerator, JobGenerator, Stepper, local_stepper, process_stepper, thread_stepper
from ._job_io import InJobIO
from ._job_state import JobFuture, JobState
from ._outcome import Outcome, outcome_of

if TYPE_CHECKING:
    from ._process_pool import ProcessPool
    from ._thread_pool import ThreadPool

__all__ = ["Job", "JobFuture", "LocalJob", "ProcessJob", "Runtime", "ThreadJob"]

log = logging.getLogger("pylo.engine")


# Job ids: 128 random bits from a generator of our own (``uuid4`` costs a system call per job;
# the ``random`` module's global state may be seeded by users), reseeded in forked children.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def new_job_id() -> str:
    """32 hex digits, unique with overwhelming probability."""
    return f"{_ids.getrandbits(128):032x}"


class Runtime(Protocol):
    """What the engine lends a job kind to run an attempt."""

    loop: asyncio.AbstractEventLoop

    def thread_pool(self) -> ThreadPool: ...

    def process_pool(self) -> ProcessPool: ...

    @property
    def dask_client(self) -> Any: ...

    def report(self, job: Job, token: int, outcome: Outcome) -> None:
        """The attempt ``token`` of ``job`` ended (callable from any thread)."""

    def report_now(self, job: Job, token: int, outcome: Outcome) -> None:
        """The same, returning once the engine has taken the outcome in (not on its loop)."""


class Job:
    """A call to run under an engine. ``func(*args, **kwargs)`` may be any callable (functions,
    ``async def`` functions, generator functions, ``functools.partial``, callable objects).
    Options, as in executor-engine (positional in this order after ``kwargs``):

    - ``callback(result)`` / ``error_callback(exception)`` — called once the job is done / each
      time an attempt fails, on the engine's loop thread (keep them short; they may submit jobs,
      not wait); an ``async def`` one runs as a task there; whatever they raise is logged and
      changes nothing;
    - ``retries``, ``retry_time_delta`` — a failed job is tried again up to ``retries`` times,
      ``retry_time_delta`` seconds after the failure (``retry_backoff`` > 1 multiplies the wait
      by it at each retry, up to ``retry_max_delay``: the one retry policy of pylo);
    - ``name``; ``condition`` — a ``pylo.conditions.Condition`` that must hold before it starts;
    - ``wait_time_delta`` — how often a custom condition that declares nothing is re-checked;
    - ``redirect_out_err`` — ``True``: the job's own stdout and stderr go to ``stdout.txt`` and
      ``stderr.txt`` in ``job.cache_dir``; a path: both go to that file. Other jobs' output and
      the process's streams are untouched (for a thread job, only what its thread writes through
      ``sys.stdout``/``sys.stderr`` is captured);
    - ``change_dir`` — run in ``job.cache_dir`` (process jobs: the working directory is one per
      process, so a thread or local job refuses it);
    - ``**attrs`` — kept on ``job.attrs``.

    Raises ``InvalidArgument`` for a bad option.
    """

    kind: ClassVar[str] = "job"
    #: whether ``change_dir`` can be honoured without changing the whole process's directory
    _own_process: ClassVar[bool] = False

    def __init__(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...] | list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        callback: Callable[[Any], object] | None = None,
        error_callback: Callable[[BaseException], object] | None = None,
        retries: int = 0,
        retry_time_delta: float = 0.0,
        name: str | None = None,
        condition: Condition | None = None,
        wait_time_delta: float = 0.01,
        redirect_out_err: bool | str = False,
        change_dir: bool = False,
        *,
        retry_backoff: float = 1.0,
        retry_max_delay: float = 3600.0,
        **attrs: Any,
    ) -> None:
        if not callable(func):
            raise ArgumentTypeError(f"func must be callable, got {type(func).__name__}")
        self.retry_policy = retry_policy(retries, retry_time_delta, retry_backoff, retry_max_delay)
        self.wait_time_delta = check_seconds("wait_time_delta", wait_time_delta, positive=True)
        if condition is not None and not isinstance(condition, Condition):
            raise InvalidArgument(f"condition must be a pylo.conditions.Condition, got {condition!r}")
        if not isinstance(redirect_out_err, (bool, str, os.PathLike)):
            raise InvalidArgument(f"redirect_out_err must be a bool or a path, got {redirect_out_err!r}")
        if change_dir and not self._own_process:
            raise InvalidArgument(
                f"change_dir needs a job in its own process (ProcessJob): the working directory of "
                f"a {type(self).__name__} is the whole process's"
            )
        self.func = func
        self.args = tuple(args or ())
        self.kwargs = dict(kwargs or {})
        condition = _with_upstreams(condition, self.args, self.kwargs)
        self.callback, self.error_callback = callback, error_callback
        self.name = name or callable_name(func)
        self.condition = condition
        self.redirect_out_err = redirect_out_err
        self.change_dir = bool(change_dir)
        self.attrs = attrs
        self.id = new_job_id()
        self.created = time.time()
        self._engine: Any = None  # the engine it was submitted to
        self._state: JobState[Job] = JobState.fresh(self)  # its current run: the scheduler's to change

    def __repr__(self) -> str:
        shown = [f"{key}={value}" for key, value in self._repr_fields() if value]  # as executor-engine: unset is unsaid
        return f"<{type(self).__name__} {' '.join(shown)}>"

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [
            ("status", self.status.value), ("id", self.id), ("func", self.name),
            ("condition", self.condition), ("retry_remain", self.retry_remain),
        ]

    # -- what users read -----------------------------------------------------------------------

    @property
    def retries(self) -> int:
        return self.retry_policy.retries

    @property
    def retry_time_delta(self) -> float:
        return self.retry_policy.delay

    @property
    def retry_remain(self) -> int:
        """Retries left to this run of the job."""
        state = self._state
        return max(0, self.retries - max(0, state.attempts - (1 if state.status is Status.RUNNING else 0)))

    @property
    def engine(self) -> Any:
        """The engine the job was submitted to (``None`` before)."""
        return self._engine

    @property
    def status(self) -> Status:
        return self._state.status

    @property
    def future(self) -> JobFuture[Job]:
        """The future of the job's current run (a re-run gets a new one)."""
        return self._state.future

    @property
    def error(self) -> BaseException | None:
        """The exception of its latest failed attempt (``None`` if none failed)."""
        return self._state.error

    @property
    def cancel_reason(self) -> str | None:
        """Why it was cancelled, once it was."""
        return self._state.cancel_reason

    @property
    def attempts(self) -> int:
        """Attempts started in this run (retries included)."""
        return self._state.attempts

    @property
    def submitted(self) -> float | None:
        return self._state.submitted

    @property
    def started(self) -> float | None:
        """When its latest attempt started (engine clock)."""
        return self._state.started

    @property
    def stopped(self) -> float | None:
        return self._state.stopped

    @property
    def cache_dir(self) -> Path | None:
        """The job's own folder under its engine's cache folder (created on first use);
        ``None`` before it is submitted."""
        if self._engine is None:
            return None
        path: Path = self._engine.get_cache_dir() / self.id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def result(self, timeout: float | None = None) -> Any:
        """The job's result: raises its exception, or ``JobCancelled``. Without ``timeout`` it
        does not wait: ``InvalidStateError`` while the job has not ended (except a generator
        job, whose result is its generator from the moment it runs); with ``timeout`` it waits
        that long, then raises ``TimeoutError``."""
        state = self._state
        if timeout is None and not state.future.done():
            if state.status is Status.RUNNING and is_generator(self.func) and state.result is not None:
                return state.result
            if state.status.settled:  # read by another thread while the engine resolves it
                return state.future.result()
            raise InvalidStateError(f"job {self.id} is {state.status.value}: it has no result yet")
        return state.future.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The job's exception (``None`` if it is done); waits like ``result``."""
        state = self._state
        if timeout is None and not state.future.done():
            return state.error
        try:
            return state.future.exception(timeout)
        except concurrent.futures.CancelledError as exc:
            return exc

    def done(self) -> bool:
        return self._state.future.done()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._state.future.__await__()

    # -- what users await (executor-engine's coroutines) ------------------------------------------

    async def join(self, timeout: float | None = None) -> None:
        """Wait until this run of the job has ended for good (its retries included), or until
        ``timeout`` seconds have passed (then it returns all the same, as executor-engine's).
        ``InvalidStateError`` if it was never submitted."""
        if self._engine is None:
            raise InvalidStateError(f"job {self.id} was never submitted: nothing to join")
        cf = self._state.future._cf
        if not cf.done():
            await asyncio.wait([awaitable(cf)], timeout=check_timeout(timeout))

    async def cancel(self) -> bool:
        """Cancel the job (see ``Engine.cancel``)."""
        if self._engine is None or not self._engine.running:
            return False
        return bool(self._engine.cancel(self))

    async def rerun(self) -> JobFuture[Job]:
        """Run the job again once it has ended (see ``Engine.rerun``); ``InvalidStateError``
        while it has not ended or was never submitted."""
        if self._engine is None or not self.status.settled:
            raise InvalidStateError(f"job {self.id} is {self.status.value}: only an ended job can be re-run")
        future: JobFuture[Job] = self._engine.rerun(self)
        return future

    async def wait_until(self, check: Callable[[Job], bool], timeout: float | None = None) -> None:
        """Return once ``check(job)`` holds, re-checked at each status change of the job
        (``asyncio.TimeoutError`` after ``timeout`` seconds)."""
        if self._engine is None:
            raise InvalidStateError(f"job {self.id} was never submitted")
        await asyncio.wait_for(self._engine.status_change(self, check), check_timeout(timeout))

    async def wait_until_status(self, status: Status | str, timeout: float | None = None) -> None:
        """Return once the job has ``status``."""
        wanted = Status(status)
        await self.wait_until(lambda job: job.status is wanted, timeout)

    # -- how the engine runs an attempt ----------------------------------------------------------

    def _attempt_call(self, call: Callable[[], Any]) -> Callable[[], Any]:
        """``call`` with the job's output files and working directory, if it asked for them."""
        out = err = cwd = None
        if self.redirect_out_err is not False:
            if isinstance(self.redirect_out_err, (str, os.PathLike)):
                out = err = os.path.abspath(os.fspath(self.redirect_out_err))
            else:
                folder = self.cache_dir
                assert folder is not None  # submitted: it has an engine
                out, err = str(folder / "stdout.txt"), str(folder / "stderr.txt")
        if self.change_dir:
            folder = self.cache_dir
            assert folder is not None
            cwd = str(folder.resolve())
        if out is None and cwd is None:
            return call
        return InJobIO(call, out, err, cwd, own_process=self._own_process, on_loop=self.kind == "local")

    def _launch(self, rt: Runtime, call: Callable[[], Any], token: int) -> Any:
        """Start attempt ``token`` and return what stops it (for ``_halt``): a generator job
        hands its generator back at once, as a ``"stream"`` outcome, and ends when it is
        exhausted."""
        if not is_generator(self.func):
            return self._begin(rt, call, token)
        stepper = self._stepper(call)
        kind = AsyncJobGenerator if inspect.isasyncgenfunction(unwrap(self.func)) else JobGenerator
        rt.report(self, token, Outcome("stream", kind(stepper, functools.partial(rt.report_now, self, token))))
        return stepper

    def _halt(self, rt: Runtime, handle: Any) -> None:
        """Stop the running attempt whose ``_launch`` returned ``handle``, generator or not."""
        if isinstance(handle, Stepper):
            handle.close()
        else:
            self._stop(rt, handle)

    def _stepper(self, call: Callable[[], Any]) -> Stepper:
        """Where this kind's generator jobs keep their generator."""
        return thread_stepper(call)

    # -- what kinds implement ------------------------------------------------------------------

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> Any:
        """Start attempt ``token`` of ``call``; report its outcome through ``rt.report``.
        Returns what ``_stop`` needs to stop it."""
        raise NotImplementedError

    def _stop(self, rt: Runtime, handle: Any) -> None:
        """Stop the running attempt that ``_begin`` returned ``handle`` for, without blocking
        (best effort)."""

    def _release(self, handle: Any) -> None:
        """The attempt of ``handle`` ended: let go of what it holds elsewhere."""

    def _spec(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Constructor arguments that rebuild this job (persisted when they pickle)."""
        return (self.func, self.args, self.kwargs), {
            **self._options(),
            "redirect_out_err": self.redirect_out_err,
            "change_dir": self.change_dir,
        }

    def _options(self) -> dict[str, Any]:
        """The options every kind takes."""
        return {
            "callback": self.callback,
            "error_callback": self.error_callback,
            "retries": self.retries,
            "retry_time_delta": self.retry_time_delta,
            "retry_backoff": self.retry_policy.backoff,
            "retry_max_delay": self.retry_policy.max_delay,
            "name": self.name,
            "condition": self.condition,
            "wait_time_delta": self.wait_time_delta,
            **self.attrs,
        }



def awaitable(cf: concurrent.futures.Future[Any]) -> asyncio.Future[Any]:
    """``cf`` as an asyncio future of the running loop, for waiting on: its outcome is the job's
    to report, so an exception it ends with is marked as seen."""
    future = asyncio.wrap_future(cf)
    future.add_done_callback(lambda f: None if f.cancelled() else f.exception())
    return future


def _with_upstreams(condition: Condition | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Condition | None:
    """A job that takes other jobs' results waits for them to be done: its condition says so,
    as executor-engine's does (``AfterOthers`` of those jobs, with the user's condition)."""
    ids = [v.id if isinstance(v, Job) else v.job.id for v in (*args, *kwargs.values()) if isinstance(v, (Job, JobFuture))]
    if not ids:
        return condition
    after = AfterOthers(list(dict.fromkeys(ids)), statuses=[Status.DONE])
    return after if condition is None else AllSatisfied([condition, after])


def retry_policy(retries: Any, delay: Any, backoff: Any, max_delay: Any) -> RetryPolicy:
    """The retry policy of a job, validated by the rules of an execution's retry options
    (``InvalidArgument`` names the bad option)."""
    return RetryPolicy(
        retries=check_count("retries", retries, minimum=0),
        delay=check_seconds("retry_time_delta", delay),
        backoff=check_number("retry_backoff", backoff, minimum=1.0, maximum=1000.0),
        max_delay=check_seconds("retry_max_delay", max_delay),
    )


def callable_name(func: Any) -> str:
    """A readable name for any callable: a function's name, a partial's function, a class name."""
    func = unwrap(func)
    return str(getattr(func, "__name__", None) or type(func).__name__)


def unwrap(func: Any) -> Any:
    """The function under ``functools.partial`` layers."""
    while isinstance(func, functools.partial):
        func = func.func
    return func


def is_generator(func: Any) -> bool:
    """Whether calling ``func`` makes a generator or an async generator (a generator job)."""
    inner = unwrap(func)
    return inspect.isgeneratorfunction(inner) or inspect.isasyncgenfunction(inner)


class LocalJob(Job):
    """Runs on the engine's own loop: for quick calls. An ``async def`` function is awaited there."""

    kind = "local"

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> Any:
        attempt = _LocalAttempt()
        rt.loop.call_soon(LocalJob._run, self, rt, call, token, attempt)  # also for SubprocessJob(base_class=LocalJob)
        return attempt

    def _run(self, rt: Runtime, call: Callable[[], Any], token: int, attempt: _LocalAttempt) -> None:
        outcome = outcome_of(call, run_coroutines=False)
        if outcome.status == "done" and inspect.isawaitable(outcome.value):
            task = asyncio.ensure_future(_guarded(outcome.value))
            attempt.task = task
            task.add_done_callback(lambda t: None if t.cancelled() else rt.report(self, token, t.result()))
            return
        rt.report(self, token, outcome)

    def _stop(self, rt: Runtime, handle: Any) -> None:
        if isinstance(handle, _LocalAttempt) and handle.task is not None:
            handle.task.cancel()

    def _stepper(self, call: Callable[[], Any]) -> Stepper:
        return local_stepper(call)


class _LocalAttempt:
    """A local job's attempt: the task awaiting its coroutine, once there is one."""

    task: asyncio.Future[Any] | None = None


async def _guarded(awaitable: Any) -> Outcome:
    """Await a local job's coroutine; what it raises is its outcome (a ``SystemExit`` raised in
    a task would otherwise end the engine's loop)."""
    try:
        return Outcome("done", await awaitable)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # noqa: BLE001 - the user's job: its outcome is data
        return Outcome("failed", exc)


class ThreadJob(Job):
    """Runs on the engine's shared thread pool (an ``async def`` function in a loop of its own
    there). Cancelling a running one frees its slot at once; the thread itself ends when the
    call returns (Python cannot stop a thread)."""

    kind = "thread"

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> Any:
        return rt.thread_pool().submit(call, functools.partial(rt.report, self, token))

    def _stop(self, rt: Runtime, handle: Any) -> None:
        if handle is not None:
            rt.thread_pool().detach(handle)


class ProcessJob(Job):
    """Runs in a worker process of the engine's shared process pool (function and arguments are
    cloudpickled). Cancelling a running one kills its process; the pool replaces it."""

    kind = "process"
    _own_process = True

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> Any:
        return rt.process_pool().submit(call, functools.partial(rt.report, self, token))

    def _stop(self, rt: Runtime, handle: Any) -> None:
        if handle is not None:
            rt.process_pool().kill(handle)

    def _stepper(self, call: Callable[[], Any]) -> Stepper:
        return process_stepper(call)
