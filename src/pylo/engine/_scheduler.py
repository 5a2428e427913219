"""The scheduler inside the engine: every status change of every job, on one event-loop thread.

    take ────► _accept ──► _consider ──(condition holds)──► ready[kind] ──(slot free)──► _start
                  ▲            │  └─(waits)─► woken by: a status change of a job it names,
                  │            │              its one deadline timer, or (opaque only) a poll
                  │            └─(can never hold / upstream failed)──► cancelled, with the reason
    report(outcome) ──► _ended ──► after_outcome: settle | retry later | take back ──► _settle
    cancel / rerun  ──► on_cancel / on_rerun ──────────────────────────────────────────┘
                                                                       └─► _notify waiters

What to do is decided by the pure functions of ``_scheduling`` (events in, actions out); this
module carries the actions out, handing the writing of job records to ``_job_records`` and a
Dask job's gate, when the Dask scheduler can hold it, to ``_dask_gates``. Each job's run-time
state is a ``JobState`` (``job._state``, one per run), written only here. Only the loop thread
touches this state; other threads hand work over through the inbox (``_inbox``). A job holds a
slot exactly while it is running (``_move``). A hand-over that raises is a bug of the engine:
the future it carries, else the job it concerns, ends with the error; when even that fails, every
waiter gets it (``_broken``).
Nothing here sleeps or polls, except for custom conditions that do not declare what they depend on.

The scheduler stands alone: it is given its limits, what lends it pools and a Dask client
(``Resources``), an event loop to run on and, if records are kept, their writer (``open``), and
optionally the engine it serves (what jobs name as their engine and conditions are asked).
``Engine`` owns one, with the loop thread, the pools, the record writer and the public API.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .._core.status import Status, check_transition
from ._timers import EngineClock
from ._dask_gates import dask_plan, in_flight, submit_gated
from ._dask_job import _dask_future
from ._deps import bind, upstreams
from ..errors import InvalidArgument, JobCancelled
from ._job import Job
from ._job_state import JobFuture, JobState, call_hook
from ._outcome import Outcome
from ._job_records import RecordWriter, record_of, spec_of
from ._scheduling import (
    BeginOnDask, Cancel, Fail, Halt, Restart, RetryLater, RunAction, Settle, Start, Stream, TakeBack,
    after_outcome, gate, on_cancel, on_rerun, upstream_of,
)
from ._slots import Slots
from ._inbox import Inbox
from ._unsettled import Unsettled

if TYPE_CHECKING:
    from ._process_pool import ProcessPool
    from ._thread_pool import ThreadPool

__all__ = ["Resources", "Scheduler", "Stats"]

log = logging.getLogger("pylo.engine")
T = TypeVar("T")


@dataclasses.dataclass
class Stats:
    """Counters that show how the engine woke up: condition evaluations, deadline timers that
    fired, and polls of opaque conditions."""

    condition_checks: int = 0
    deadline_wakeups: int = 0
    poll_wakeups: int = 0
    retries: int = 0


class Resources(Protocol):
    """What lends the scheduler's jobs their pools and Dask client (made on first use, closed by
    their owner: the engine)."""

    def thread_pool(self) -> ThreadPool: ...

    def process_pool(self) -> ProcessPool: ...

    @property
    def dask_client(self) -> Any: ...


class Scheduler:
    """The job state machine, on one event loop: ``open(loop, clock)`` on the loop's thread,
    then ``take`` jobs (on that thread: ``call`` gets there from another). It is the ``Runtime``
    its jobs run attempts with. ``engine``, when given, is what the jobs name as their engine
    and what their conditions are asked (the scheduler answers them itself otherwise)."""

    loop: asyncio.AbstractEventLoop
    clock: EngineClock

    def __init__(self, slots: Slots, resources: Resources, *, engine: Any = None) -> None:
        self.slots = slots
        self.resources = resources
        self.engine = engine
        self.context: Any = self if engine is None else engine  # what conditions are asked
        self.stats = Stats()
        self.jobs: dict[str, Job] = {}
        self.statuses: dict[str, Status] = {}
        self._waiters: dict[str, set[Job]] = collections.defaultdict(set)
        self._ready: dict[str, collections.deque[Job]] = collections.defaultdict(collections.deque)
        self._pumping = self._pump_again = False
        self.unsettled = Unsettled()
        self._records: RecordWriter | None = None  # where job records go while open, if anywhere
        self._inbox = Inbox(self._handover_failed)
        self.print_traceback = True
        self._status_watchers: dict[str, list[tuple[Callable[[Job], bool], Any]]] = {}
        self._upstreams: dict[str, list[Job]] = {}  # the jobs whose results each job takes

    # -- the loop it runs on ----------------------------------------------------------------------

    def open(self, loop: asyncio.AbstractEventLoop, clock: EngineClock, records: RecordWriter | None = None) -> None:
        """Called on the thread that runs ``loop``: the scheduler's loop thread from now on. With
        ``records``, each job's record is written there at each of its status changes."""
        self.loop, self.clock, self._records = loop, clock, records
        self._inbox.open(loop)

    def close(self) -> None:
        """Once the loop thread ended: forget it (and the record writer, which its owner shuts)."""
        self._inbox.close()
        self._records = None

    # -- what jobs borrow to run (the ``Runtime`` of their attempts) -------------------------------

    def thread_pool(self) -> ThreadPool:
        return self.resources.thread_pool()

    def process_pool(self) -> ProcessPool:
        return self.resources.process_pool()

    @property
    def dask_client(self) -> Any:
        return self.resources.dask_client

    # -- the condition context -----------------------------------------------------------------

    def job_status(self, job_id: str) -> Status | None:
        return self.statuses.get(job_id)

    def time(self) -> float:
        return self.clock.time()

    async def sleep_until(self, when: float) -> None:
        """On the loop: return at ``when`` by the engine's clock (an injected clock moves it)."""
        future: asyncio.Future[None] = self.loop.create_future()
        timer = self.clock.call_at(when, functools.partial(self._handover, _wake, future))
        try:
            await future
        finally:
            timer.cancel()

    # -- hand-over from other threads ------------------------------------------------------------

    def report(self, job: Job, token: int, outcome: Outcome) -> None:
        """An attempt ended (any thread)."""
        self._handover(self._ended, job, token, outcome)

    def report_now(self, job: Job, token: int, outcome: Outcome) -> None:
        """An attempt ended: return once the engine has taken it in (a generator job's last
        step, after which its status must read "done")."""
        self.call(self._ended, job, token, outcome)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the loop thread and return its result, or raise what it raised
        (blocking the caller). ``InvalidStateError`` if the scheduler is not open."""
        return self._inbox.call(fn, *args)

    @property
    def loop_thread(self) -> int:
        """The ident of the loop thread (0 while none runs)."""
        return self._inbox.owner

    def _handover(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop: now if on it, else soon (through the inbox)."""
        self._inbox.put(fn, *args)

    def _handover_failed(self, fn: Callable[..., None], args: tuple[Any, ...], error: Exception) -> None:
        """A hand-over raised: a bug of the engine, which must not leave anyone waiting forever.
        A future it carries (someone waits on it) ends with the error; else the jobs it concerns
        fail with it; if there is none, or failing one raises as well, the scheduler's state is
        not to be trusted any more and every waiter gets the error."""
        log.error("engine: %s failed", getattr(fn, "__name__", fn), exc_info=error)
        args = _arguments(fn, args)
        futures = [arg for arg in args if isinstance(arg, (asyncio.Future, concurrent.futures.Future))]
        for future in futures:
            if not future.done():
                future.set_exception(error)
        if futures:
            return
        jobs = [arg for arg in args if isinstance(arg, Job)]
        try:
            for job in jobs:
                if not job._state.status.settled:
                    self._settle(job, Status.FAILED, error)
        except Exception as again:  # noqa: BLE001 - the same bug, or another: either way, give up
            log.error("engine: failing the jobs of a broken hand-over failed too", exc_info=again)
            jobs = []
        if not jobs:
            self._broken(error)

    def _broken(self, error: Exception) -> None:
        """The scheduler cannot go on: every job not settled yet is resolved with ``error``, and
        ``wait()`` raises it."""
        for job in self.jobs.values():
            if not job._state.future._cf.done():
                job._state.future._cf.set_exception(error)
        self.unsettled.break_with(error)

    # -- taking jobs in (on the loop) -------------------------------------------------------------

    def take(self, jobs: list[Job]) -> None:
        """Run each job: a new one is accepted, one that ended is re-run."""
        for job in jobs:
            if job.id in self.jobs and job.status.settled:
                self.rerun(job)
            elif job.id not in self.jobs:
                self.unsettled.add()
                self._accept(job)

    def know(self, job_id: str, status: Status) -> None:
        """A job that settled before (read from the store): what conditions that name it see."""
        self.statuses[job_id] = status

    def remove(self, job: Job) -> None:
        """Cancel ``job`` if it has not ended, and forget it."""
        self.cancel(job, "removed from the engine")
        self.jobs.pop(job.id, None)
        for table in (self._upstreams, self._status_watchers):
            table.pop(job.id, None)

    def cancel_all(self, reason: str) -> list[Any]:
        """Cancel every job; return the handles of every job's latest attempt (a command
        cancelled just before may still be in its grace period, too)."""
        handles = [job._state.handle for job in self.jobs.values() if job._state.handle is not None]
        for job in list(self.jobs.values()):
            self.cancel(job, reason)
        return handles

    # -- accepting and gating --------------------------------------------------------------------

    def _accept(self, job: Job) -> None:
        """A new job (counted unsettled by the caller): gate it, and start it if it may."""
        self.jobs[job.id] = job
        self.statuses[job.id] = Status.PENDING
        self._upstreams[job.id] = upstreams(job)
        foreign = [up for up in self._upstreams[job.id] if up.engine is not None and up.engine is not self.engine]
        if foreign:  # its status changes are seen by another engine only: it would wait forever
            self._watch(job)
            self._settle(job, Status.FAILED, InvalidArgument(
                f"job {job.name!r} takes the result of job {foreign[0].name!r} ({foreign[0].id}), "
                "which was submitted to another engine"
            ))
            return
        state = job._state
        if state.spec is None and self._records is not None:
            state.spec = spec_of(job)
        self._watch(job)
        self._persist(job)
        if job.kind == "dask":
            self._compile(job)
        self._consider(job)

    def _watch(self, job: Job) -> None:
        try:
            ids = set() if job.condition is None else set(job.condition.job_ids() or ())
        except Exception as exc:  # noqa: BLE001 - a custom condition is user code; its bug fails its job (in gate)
            log.debug("condition of job %s: job_ids() raised %r", job.id, exc)
            ids = set()
        ids.update(u.id for u in self._upstreams[job.id])
        for job_id in ids:
            self._waiters[job_id].add(job)

    def _consider(self, job: Job) -> None:
        """Decide what a pending job does now (``_scheduling.gate``), and do it."""
        state = job._state
        if state.status is not Status.PENDING or state.gated:
            return
        self.stats.condition_checks += 1
        ups = [upstream_of(up, self.statuses.get(up.id)) for up in self._upstreams[job.id]]
        action = gate(ups, job.condition, self.context, job.wait_time_delta)
        if isinstance(action, Start):
            self._make_ready(job)
        elif isinstance(action, Cancel):
            self.cancel(job, action.reason)
        elif isinstance(action, Fail):
            self._settle(job, Status.FAILED, action.error)
        elif action.until is not None:
            self._arm(job, action.until, functools.partial(self._on_timer, job, action.poll))

    def _arm(self, job: Job, when: float, fire: Callable[[], None]) -> None:
        state = job._state
        self._disarm(state)
        state.timer = self.clock.call_at(when, functools.partial(self._handover, fire))

    def _disarm(self, state: JobState[Job]) -> None:
        timer, state.timer = state.timer, None
        if timer is not None:
            timer.cancel()

    def _on_timer(self, job: Job, poll: bool) -> None:
        job._state.timer = None
        if poll:
            self.stats.poll_wakeups += 1
        else:
            self.stats.deadline_wakeups += 1
        self._consider(job)

    def _make_ready(self, job: Job) -> None:
        state = job._state
        state.gated = True
        self._disarm(state)
        self._ready[job.kind].append(job)
        self._pump()

    def _notify(self, job: Job) -> None:
        self._wake_watchers(job)
        waiters = self._waiters.get(job.id)
        if not waiters:
            return
        for waiter in list(waiters):
            if waiter._state.status is not Status.PENDING or waiter._state.gated:
                waiters.discard(waiter)
            else:
                self._consider(waiter)

    def _wake_watchers(self, job: Job) -> None:
        watchers = self._status_watchers.get(job.id)
        if not watchers:
            return
        keep = []
        for check, future in watchers:
            if future.done():
                continue
            try:
                if check(job):
                    future.set_result(None)
                    continue
            except Exception as exc:  # noqa: BLE001 - the check is user code: its error is the waiter's
                future.set_exception(exc)
                continue
            keep.append((check, future))
        self._status_watchers[job.id] = keep

    def watch_status(self, job: Job, check: Callable[[Job], bool], future: Any) -> None:
        """Resolve ``future`` once ``check(job)`` holds, asked now and at each status change
        (from any thread; a ``check`` that raises fails ``future``)."""
        self._handover(self._watch_status, job, check, future)

    def _watch_status(self, job: Job, check: Callable[[Job], bool], future: Any) -> None:
        self._status_watchers.setdefault(job.id, []).append((check, future))
        self._wake_watchers(job)

    # -- statuses: a job holds a slot exactly while it is running -----------------------------------

    def _move(self, job: Job, status: Status) -> None:
        """Change the job's status (``check_transition`` refuses an illegal change), taking a
        slot as it starts running and giving it back as it stops."""
        state = job._state
        before = state.status
        state.status = check_transition(before, status)
        self.statuses[job.id] = status
        if before is Status.RUNNING:
            self.slots.give(job.kind)
        if status is Status.RUNNING:
            self.slots.take(job.kind)
            state.started = self.time()
            state.attempts += 1

    def _back_to_pending(self, job: Job, via: Status) -> None:
        """A running job whose attempt ended without settling it (to be retried, or taken back
        from Dask) goes back to pending the way a re-run does, through ``via``; only the loop
        thread sees the step in between, and no one is notified of it."""
        self._move(job, via)
        self._move(job, Status.PENDING)

    # -- running -----------------------------------------------------------------------------------

    def _pump(self) -> None:
        """Start ready jobs while their kinds (and the total) have free slots."""
        if self._pumping:
            self._pump_again = True
            return
        self._pumping = True
        try:
            self._pump_again = True
            while self._pump_again:
                self._pump_again = False
                for kind in list(self._ready):
                    queue = self._ready[kind]
                    while queue and self.slots.free(kind):
                        job = queue.popleft()
                        if job._state.status is Status.PENDING and job._state.gated:
                            self._start(job)
        finally:
            self._pumping = False

    def _start(self, job: Job) -> None:
        state = job._state
        self._move(job, Status.RUNNING)
        if not state.compiled:
            state.token += 1
            try:
                state.handle = job._launch(self, job._attempt_call(bind(job, _result_of)), state.token)
            except Exception as exc:  # noqa: BLE001 - user code
                # handing the call on pickles the user's function and arguments, which runs
                # their own code (``__reduce__``): whatever that raises fails the attempt
                self._ended(job, state.token, Outcome("failed", exc))
                return
        self._persist(job)
        self._notify(job)

    def _ended(self, job: Job, token: int, outcome: Outcome) -> None:
        """An attempt reported its outcome: decide (``after_outcome``) and carry it out."""
        for action in after_outcome(job._state, token, outcome, job.retry_policy):
            self._carry_out(job, action)

    def _carry_out(self, job: Job, action: RunAction) -> None:
        state = job._state
        if isinstance(action, BeginOnDask):
            state.gated = True
            self._move(job, Status.RUNNING)
        elif isinstance(action, Stream):  # a generator job started: it runs until exhausted
            state.result = action.value
        elif isinstance(action, Settle):
            self._settle(job, action.status, action.value)
        elif isinstance(action, RetryLater):
            self._retry_later(job, action)
        elif isinstance(action, TakeBack):
            self._take_back(job)
        elif isinstance(action, Halt):
            self._halt(job)
        elif isinstance(action, Restart):
            self._restart(job)

    def _retry_later(self, job: Job, action: RetryLater) -> None:
        state = job._state
        state.error = action.error
        self.stats.retries += 1
        self._back_to_pending(job, Status.FAILED)
        self._drop_attempt(job)
        state.compiled = False  # the next attempt is the engine's to start
        log.info("job %s (%s) failed attempt %d: %r; retrying", job.name, job.id, state.attempts, action.error)
        self._persist(job)
        self._arm(job, self.time() + action.delay, functools.partial(self._retry, job, state.token))
        self._pump()

    def _retry(self, job: Job, token: int) -> None:
        state = job._state
        state.timer = None
        if state.token == token and state.status is Status.PENDING and state.gated:
            self._ready[job.kind].append(job)
            self._pump()

    def _drop_attempt(self, job: Job, *, keep_handle: bool = False) -> None:
        """The attempt is over: let go of what it holds on a cluster, and of its handle unless
        ``keep_handle`` (a cancelled command may still be in its grace period: ``stop()``
        finishes it off through its handle)."""
        state = job._state
        handle = state.handle
        if not keep_handle:
            state.handle = None
        if handle is not None:
            job._release(handle)

    # -- ending ------------------------------------------------------------------------------------

    def cancel(self, job: Job, reason: str) -> bool:
        """Cancel ``job`` unless it has ended (a running attempt is stopped); whether it was."""
        state = job._state
        actions = on_cancel(state, reason, state.handle is not None)
        for action in actions:
            self._carry_out(job, action)
        return bool(actions)

    def _halt(self, job: Job) -> None:
        try:
            job._halt(self, job._state.handle)
        except Exception:  # noqa: BLE001 - user code
            # stopping runs code the engine does not own (a generator job's generator closes: its
            # ``finally`` is the user's; an execution job cancels its run, with store I/O): best
            # effort, the job is cancelled anyway
            log.exception("job %s: stopping it failed", job.id)

    def _settle(self, job: Job, status: Status, value: Any) -> None:
        """End the run: ``value`` is the result (done), the exception (failed) or why (cancelled)."""
        state = job._state
        self._move(job, status)
        state.stopped = self.time()
        state.token += 1  # whatever an attempt of the ended run still reports is dropped
        self._disarm(state)
        # the result is on the job: the cluster need not keep it
        self._drop_attempt(job, keep_handle=status is Status.CANCELLED)
        if status is Status.DONE:
            state.result = value
        elif status is Status.FAILED:
            state.error = value
            if self.print_traceback:
                log.error("job %s (%s) failed", job.name, job.id, exc_info=value)
        else:
            state.cancel_reason = value
        self._resolve(job, state)  # before anyone woken by the status reads the result
        self._notify(job)
        self._persist(job)
        self.unsettled.settled()
        self._pump()

    def _resolve(self, job: Job, state: JobState[Job]) -> None:
        future = state.future._cf
        if future.done():
            return
        if state.status is Status.DONE:
            call_hook(job, job.callback, state.result)
            future.set_result(state.result)
        elif state.status is Status.FAILED:
            assert state.error is not None
            call_hook(job, job.error_callback, state.error)
            future.set_exception(state.error)
        else:
            future.set_exception(JobCancelled(state.cancel_reason or "cancelled"))

    def _persist(self, job: Job) -> None:
        if self._records is not None:
            self._records.write(record_of(job), job._state.spec)

    # -- re-running ------------------------------------------------------------------------------------

    def rerun(self, job: Job) -> JobFuture[Job]:
        """Run ``job`` again once it has ended; its (new) future."""
        for action in on_rerun(job._state):
            self._carry_out(job, action)
        return job.future

    def _restart(self, job: Job) -> None:
        """A new run of an ended job: a fresh state (and future), pending."""
        old = job._state
        check_transition(old.status, Status.PENDING)
        job._state = dataclasses.replace(
            JobState.fresh(job), submitted=old.submitted, spec=old.spec,
            token=old.token,  # attempts of the old run that still report are dropped
        )
        self.statuses[job.id] = Status.PENDING
        self.unsettled.add()
        self._watch(job)
        self._persist(job)
        self._notify(job)
        self._consider(job)

    # -- Dask: gates compiled to dependencies ----------------------------------------------------------

    def _compile(self, job: Job) -> None:
        """Leave ``job``'s gate to the Dask scheduler when it can hold it all (``_dask_gates``)."""
        if self.slots.per_kind.get("dask") is not None:
            return  # the engine must count these jobs itself (Dask jobs are outside max_jobs)
        ups = [up.id for up in self._upstreams[job.id]]
        plan = dask_plan(job.condition, ups, self._in_flight)
        if not plan:
            return
        state = job._state
        state.token += 1
        state.compiled = True
        handles = [self.jobs[job_id]._state.handle for job_id, _ in plan]
        report = functools.partial(self.report, job, state.token)
        state.handle = submit_gated(self.dask_client, job, state.token, plan, handles, report)

    def _in_flight(self, job_id: str) -> bool:
        job = self.jobs.get(job_id)
        return job is not None and in_flight(job, job._state.handle)

    def gated_on_dask(self, job: Job) -> bool:
        """Whether ``job`` (a ``DaskJob``) waits for its upstreams on the Dask scheduler itself."""
        return job._state.compiled

    def dask_key(self, job: Job) -> str | None:
        """The key of the Dask task of ``job``'s current attempt (a ``DaskJob``), once it has one."""
        future = _dask_future(job._state.handle)
        return None if future is None else str(future.key)

    def _take_back(self, job: Job) -> None:
        """A compiled job's Dask future ended without an outcome: decide on the client instead."""
        state = job._state
        state.compiled = False
        state.handle = None
        state.token += 1
        if state.status is Status.RUNNING:
            self._back_to_pending(job, Status.CANCELLED)
            state.attempts -= 1
        state.gated = False
        self._consider(job)


def _arguments(fn: Callable[..., None], args: tuple[Any, ...]) -> tuple[Any, ...]:
    """What a hand-over is about: its arguments, and its partial's (a timer's)."""
    while isinstance(fn, functools.partial):
        args = (*fn.args, *args)
        fn = fn.func
    return args


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _result_of(job: Job) -> Any:
    return job._state.result
