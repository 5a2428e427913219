"""The scheduler inside the engine: every status change of every job, on one event-loop thread.

    submit ──► _accept ──► _consider ──(condition holds)──► ready[kind] ──(slot free)──► _start
                  ▲            │  └─(waits)─► woken by: a status change of a job it names,
                  │            │              its one deadline timer, or (opaque only) a poll
                  │            └─(can never hold / upstream failed)──► cancelled, with the reason
    report(outcome) ──► _ended ──► done | failed | retry later | cancelled ──► _settle
                                                                                └─► _notify waiters

Only the loop thread touches this state; other threads hand work over with
``call_soon_threadsafe``. Nothing here sleeps or polls, except for custom conditions that do not
declare what they depend on.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._core.status import Status, check_transition
from ._timers import EngineClock
from ._deps import Deferred, bind, upstreams
from ..errors import InvalidArgument, JobCancelled, JobError
from ._job import Job, JobFuture, call_hook
from ._outcome import Outcome
from ._job_records import RecordStore, record_of, spec_of
from ._scheduling import Cancel, Fail, GiveUp, Start, after_failure, gate, upstream_of
from ._slots import Slots

if TYPE_CHECKING:
    from ._process_pool import ProcessPool
    from ._thread_pool import ThreadPool

__all__ = ["Scheduler", "Stats"]

log = logging.getLogger("pylo.engine")


@dataclasses.dataclass
class Stats:
    """Counters that show how the engine woke up: condition evaluations, deadline timers that
    fired, and polls of opaque conditions."""

    condition_checks: int = 0
    deadline_wakeups: int = 0
    poll_wakeups: int = 0
    retries: int = 0


class Scheduler:
    """The job state machine. ``Engine`` wraps it with the thread, pools and public API."""

    loop: asyncio.AbstractEventLoop
    clock: EngineClock

    if TYPE_CHECKING:  # Engine provides these; with them the scheduler is the jobs' Runtime

        def thread_pool(self) -> ThreadPool: ...

        def process_pool(self) -> ProcessPool: ...

    def __init__(self, slots: Slots, record_store: RecordStore | None) -> None:
        self.slots = slots
        self.record_store = record_store
        self.stats = Stats()
        self._jobs: dict[str, Job] = {}
        self.statuses: dict[str, Status] = {}
        self._waiters: dict[str, set[Job]] = collections.defaultdict(set)
        self._ready: dict[str, collections.deque[Job]] = collections.defaultdict(collections.deque)
        self._pumping = self._pump_again = False
        self._stopping = False
        self._count_lock = threading.Lock()
        self._unsettled = 0
        self._idle: list[Any] = []
        self._writes: Any = None  # a one-thread executor for record writes
        self._loop_thread = 0
        self._inbox: collections.deque[tuple[Callable[..., None], tuple[Any, ...]]] = collections.deque()
        self._inbox_lock = threading.Lock()
        self._drain_scheduled = False
        self.print_traceback = True
        self._status_watchers: dict[str, list[tuple[Callable[[Job], bool], Any]]] = {}
        # the run-time state of each job, by id: the scheduler's, not the job's
        self._upstreams: dict[str, list[Job]] = {}  # the jobs whose results it takes
        self._gated: set[str] = set()  # pending jobs whose gate is passed (ready, or retrying)
        self._timers: dict[str, Any] = {}  # the one timer of a pending job (deadline, poll, retry)
        self._tokens: dict[str, int] = {}  # the number of the current attempt: late reports are dropped
        self._compiled: set[str] = set()  # Dask jobs whose gate the Dask scheduler holds

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

    # -- counting unsettled jobs (any thread) ---------------------------------------------------

    def _inc(self) -> None:
        with self._count_lock:
            self._unsettled += 1

    def _dec(self) -> None:
        with self._count_lock:
            self._unsettled -= 1
            idle, self._idle = (self._idle, []) if self._unsettled == 0 else ([], self._idle)
        for future in idle:
            if not future.done():  # a waiter that timed out may have cancelled its future
                future.set_result(None)

    def _idle_future(self) -> Any:
        import concurrent.futures

        with self._count_lock:
            if self._unsettled == 0:
                return None
            future: concurrent.futures.Future[None] = concurrent.futures.Future()
            self._idle.append(future)
            return future

    # -- hand-over from other threads ------------------------------------------------------------

    def report(self, job: Job, token: int, outcome: Outcome) -> None:
        """An attempt ended (any thread)."""
        self._handover(self._ended, job, token, outcome)

    def report_now(self, job: Job, token: int, outcome: Outcome) -> None:
        """An attempt ended: return once the engine has taken it in (a generator job's last
        step, after which its status must read "done")."""
        self._on_loop(self._ended, job, token, outcome)

    def _on_loop(self, fn: Callable[..., Any], *args: Any) -> Any:  # Engine provides it
        raise NotImplementedError

    def _handover(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop: now if on it, else soon. Calls from other threads are
        queued in an inbox and drained in batches: one loop wake-up for many job ends."""
        if threading.get_ident() == self._loop_thread:
            fn(*args)
            return
        self._inbox.append((fn, args))
        with self._inbox_lock:
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the engine stopped: nobody waits for this any more
            log.debug("engine stopped; dropped %s", getattr(fn, "__name__", fn))

    def _drain(self) -> None:
        with self._inbox_lock:
            self._drain_scheduled = False
        inbox = self._inbox
        while inbox:
            fn, args = inbox.popleft()
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - one broken hand-over must not strand the others
                log.exception("engine: %s failed", getattr(fn, "__name__", fn))

    # -- accepting and gating --------------------------------------------------------------------

    def _accept(self, job: Job) -> None:
        self._jobs[job.id] = job
        self.statuses[job.id] = Status.PENDING
        self._upstreams[job.id] = upstreams(job)
        foreign = [up for up in self._upstreams[job.id] if up._engine is not None and up._engine is not self]
        if foreign:  # its status changes are seen by another engine only: it would wait forever
            self._watch(job)
            job.error = InvalidArgument(
                f"job {job.name!r} takes the result of job {foreign[0].name!r} ({foreign[0].id}), "
                "which was submitted to another engine"
            )
            self._settle(job, Status.FAILED)
            return
        if getattr(job, "_spec_blob", None) is None and self.record_store is not None:
            job._spec_blob = spec_of(job)
        self._watch(job)
        self._persist(job)
        if job.kind == "dask":
            self._compile(job)
        self._consider(job)

    def _watch(self, job: Job) -> None:
        try:
            ids = set() if job.condition is None else set(job.condition.job_ids() or ())
        except Exception as exc:  # noqa: BLE001 - a custom condition's bug fails its job (in _gate)
            log.debug("condition of job %s: job_ids() raised %r", job.id, exc)
            ids = set()
        ids.update(u.id for u in self._upstreams[job.id])
        for job_id in ids:
            self._waiters[job_id].add(job)

    def _consider(self, job: Job) -> None:
        """Decide what a pending job does now (``_scheduling.gate``), and do it."""
        if job._status is not Status.PENDING or job.id in self._gated:
            return
        self.stats.condition_checks += 1
        ups = [upstream_of(up, self.statuses.get(up.id)) for up in self._upstreams[job.id]]
        action = gate(ups, job.condition, self, job.wait_time_delta)
        if isinstance(action, Start):
            self._make_ready(job)
        elif isinstance(action, Cancel):
            self._cancel(job, action.reason)
        elif isinstance(action, Fail):
            job.error = action.error
            self._settle(job, Status.FAILED)
        elif action.until is not None:
            self._arm(job, action.until, poll=action.poll)

    def _arm(self, job: Job, when: float, *, poll: bool) -> None:
        self._disarm(job)
        self._timers[job.id] = self.clock.call_at(when, functools.partial(self._handover, self._on_timer, job, poll))

    def _disarm(self, job: Job) -> None:
        timer = self._timers.pop(job.id, None)
        if timer is not None:
            timer.cancel()

    def _on_timer(self, job: Job, poll: bool) -> None:
        self._timers.pop(job.id, None)
        if poll:
            self.stats.poll_wakeups += 1
        else:
            self.stats.deadline_wakeups += 1
        self._consider(job)

    def _make_ready(self, job: Job) -> None:
        self._gated.add(job.id)
        self._disarm(job)
        self._ready[job.kind].append(job)
        self._pump()

    def _notify(self, job: Job) -> None:
        self._wake_watchers(job)
        waiters = self._waiters.get(job.id)
        if not waiters:
            return
        for waiter in list(waiters):
            if waiter._status is not Status.PENDING or waiter.id in self._gated:
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

    def _watch_status(self, job: Job, check: Callable[[Job], bool], future: Any) -> None:
        self._status_watchers.setdefault(job.id, []).append((check, future))
        self._wake_watchers(job)

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
                        if job._status is Status.PENDING and job.id in self._gated:
                            self._start(job)
        finally:
            self._pumping = False

    def _start(self, job: Job) -> None:
        self.slots.take(job.kind)
        job._status = check_transition(job._status, Status.RUNNING)
        self.statuses[job.id] = Status.RUNNING
        job.started = self.time()
        job.attempts += 1
        if job.id not in self._compiled:
            self._tokens[job.id] = self._tokens.get(job.id, 0) + 1
            try:
                job._launch(self, job._attempt_call(bind(job)), self._tokens.get(job.id, 0))
            except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable call: the attempt fails
                self._ended(job, self._tokens.get(job.id, 0), Outcome("failed", exc))
                return
        self._persist(job)
        self._notify(job)

    def _ended(self, job: Job, token: int, outcome: Outcome) -> None:
        if token != self._tokens.get(job.id, 0):
            return  # an attempt that was cancelled or superseded
        if job.id in self._compiled and outcome.status == "lost":
            self._decompile(job)
            return
        if job.id in self._compiled and job._status is Status.PENDING:
            self._make_running(job)
        if job._status is not Status.RUNNING:
            return
        if outcome.status == "stream":  # a generator job started: it runs until exhausted
            job._result = outcome.value
            return
        self.slots.give(job.kind)
        job._handle = None
        if outcome.status == "done":
            job._result = outcome.value
            self._settle(job, Status.DONE)
        elif outcome.status == "skipped":
            self._settle(job, Status.CANCELLED, reason=f"condition not met on Dask: {outcome.value}")
        else:
            error = outcome.value if isinstance(outcome.value, BaseException) else JobError(f"Lost: {outcome.value}", "Lost")
            self._failed(job, error)

    def _make_running(self, job: Job) -> None:
        self._gated.add(job.id)
        self.slots.take(job.kind)
        job._status = check_transition(job._status, Status.RUNNING)
        self.statuses[job.id] = Status.RUNNING
        job.started = self.time()
        job.attempts += 1

    def _failed(self, job: Job, error: BaseException) -> None:
        job.error = error
        decision = after_failure(job.attempts, job.retry_policy)
        if isinstance(decision, GiveUp):
            self._settle(job, Status.FAILED)
            return
        self.stats.retries += 1
        _back_to_pending(job, Status.FAILED)
        self.statuses[job.id] = Status.PENDING
        if job._dask_future is not None:
            _release(job._dask_future)
        self._compiled.discard(job.id)
        job._dask_future = None
        log.info("job %s (%s) failed attempt %d: %r; retrying", job.name, job.id, job.attempts, error)
        self._persist(job)
        token = self._tokens.get(job.id, 0)
        self._timers[job.id] = self.clock.call_at(self.time() + decision.delay, functools.partial(self._handover, self._retry, job, token))
        self._pump()

    def _retry(self, job: Job, token: int) -> None:
        self._timers.pop(job.id, None)
        if self._tokens.get(job.id, 0) == token and job._status is Status.PENDING and job.id in self._gated:
            self._ready[job.kind].append(job)
            self._pump()

    # -- ending ------------------------------------------------------------------------------------

    def _cancel(self, job: Job, reason: str) -> bool:
        if job._status.settled:
            return False
        if job._status is Status.RUNNING:
            self.slots.give(job.kind)
            try:
                job._halt(self)
            except Exception:  # noqa: BLE001 - stopping is best effort; the job is cancelled anyway
                log.exception("job %s: stopping it failed", job.id)
        elif job.id in self._compiled and job._dask_future is not None:
            job._halt(self)
        self._tokens[job.id] = self._tokens.get(job.id, 0) + 1
        self._settle(job, Status.CANCELLED, reason=reason)
        return True

    def _settle(self, job: Job, status: Status, *, reason: str | None = None) -> None:
        job._status = check_transition(job._status, status)
        self.statuses[job.id] = status
        job.stopped = self.time()
        self._disarm(job)
        if job._dask_future is not None:  # the result is on the job: the cluster need not keep it
            _release(job._dask_future)
            job._dask_future = None
        if status is Status.CANCELLED:
            job.cancel_reason = reason
        elif status is Status.FAILED and self.print_traceback and job.error is not None:
            log.error("job %s (%s) failed", job.name, job.id, exc_info=job.error)
        self._resolve(job, status)  # before anyone woken by the status reads the result
        self._notify(job)
        self._persist(job)
        self._dec()
        self._pump()

    def _resolve(self, job: Job, status: Status) -> None:
        future = job._future._cf
        if future.done():
            return
        if status is Status.DONE:
            call_hook(job, job.callback, job._result)
            future.set_result(job._result)
        elif status is Status.FAILED:
            assert job.error is not None
            call_hook(job, job.error_callback, job.error)
            future.set_exception(job.error)
        else:
            future.set_exception(JobCancelled(job.cancel_reason or "cancelled"))

    def _persist(self, job: Job) -> None:
        if self.record_store is None or self._stopping:
            return
        self._writes.submit(_write, self.record_store, record_of(job), getattr(job, "_spec_blob", None))

    # -- re-running ------------------------------------------------------------------------------------

    def _rerun(self, job: Job) -> JobFuture:
        if not job._status.settled:
            return job._future
        job._status = check_transition(job._status, Status.PENDING)
        self.statuses[job.id] = Status.PENDING
        job._future = JobFuture(job)
        job.attempts, job.error, job.cancel_reason, job._result = 0, None, None, None
        job.started = job.stopped = None
        self._gated.discard(job.id)
        self._compiled.discard(job.id)
        job._dask_future = None
        self._inc()
        self._watch(job)
        self._persist(job)
        self._notify(job)
        self._consider(job)
        return job._future

    # -- Dask: gates compiled to dependencies ----------------------------------------------------------

    def _compile(self, job: Job) -> None:
        if self.slots.per_kind.get("dask") is not None:
            return  # the engine must count these jobs itself (Dask jobs are outside max_jobs)
        from ._dask_job import dask_plan, in_flight

        plan = dask_plan(job.condition, [up.id for up in self._upstreams[job.id]], lambda i: in_flight(self._jobs.get(i)))
        if not plan:
            return
        from . import _dask_client as _dask

        order = [job_id for job_id, _ in plan]
        self._tokens[job.id] = self._tokens.get(job.id, 0) + 1
        token = self._tokens.get(job.id, 0)
        self._compiled.add(job.id)
        job._dask_future = _dask.submit(
            self.dask_client, _dask.settled_after, Deferred.of(job, order), [f for _, f in plan],
            *[self._jobs[job_id]._dask_future for job_id, _ in plan],
            key=f"pylo-job-{job.name}-{job.id}-{token}", on_done=functools.partial(self.report, job, token),
        )
        log.debug("job %s handed to Dask after %s", job.id, order)

    def gated_on_dask(self, job: Job) -> bool:
        """Whether ``job`` (a ``DaskJob``) waits for its upstreams on the Dask scheduler itself."""
        return job.id in self._compiled

    def _decompile(self, job: Job) -> None:
        """A compiled job's Dask future ended without an outcome: decide on the client instead."""
        self._compiled.discard(job.id)
        job._dask_future = None
        self._tokens[job.id] = self._tokens.get(job.id, 0) + 1
        if job._status is Status.RUNNING:
            self.slots.give(job.kind)
            _back_to_pending(job, Status.CANCELLED)
            self.statuses[job.id] = Status.PENDING
            job.attempts -= 1
        self._gated.discard(job.id)
        self._consider(job)

    dask_client: Any  # Engine's property: the client for Dask jobs



def _back_to_pending(job: Job, via: Status) -> None:
    """A running job whose attempt ended without settling it (to be retried, or taken back from
    Dask) goes back to pending the way a re-run does, through ``via``; only the loop thread sees
    the step in between, and no one is notified of it."""
    job._status = check_transition(check_transition(job._status, via), Status.PENDING)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _release(future: Any) -> None:
    try:
        future.release()
    except Exception:  # noqa: BLE001 - a client already closed has nothing left to release
        log.debug("could not release Dask future %s", getattr(future, "key", future))


def _write(records: RecordStore, record: Any, spec: bytes | None) -> None:
    try:
        records.write(record, spec)
    except Exception:  # noqa: BLE001 - a lost record write must not stop the engine
        log.exception("could not write the record of job %s", record.id)
