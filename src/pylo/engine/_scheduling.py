"""What the scheduler decides, as pure functions: events in, actions out (no threads, no timers).

    gate(upstreams, condition, ctx, poll_every)   a pending job was woken (submitted, a job it
                                                  names changed status, its timer fired) ──►
        Start | Wait(until) | Cancel(reason) | Fail(error)
    after_failure(failed_attempts, policy)        an attempt failed ──► Retry(delay) | GiveUp()
    after_outcome(run, token, outcome, policy)    an attempt reported its outcome ──►
        () | [BeginOnDask] then Stream(value) | Settle(status, value) | RetryLater(delay, error)
        | TakeBack()
    on_cancel(run, reason, has_handle)            the user (or a stop) cancels the job ──►
        () | [Halt] then Settle(cancelled, reason)
    on_rerun(run)                                 the user re-runs the job ──► () | Restart()

``run`` is what the scheduler knows of the job's current run (``RunView``: its status, attempt
token, attempts, whether Dask holds its gate). The scheduler (``_scheduler``) carries the actions out,
in order: it starts, stops, settles or retries the job, arms one timer. A job holds a slot
exactly while it is running, so no action needs to say when to give one back. The retry delays
are pylo's one retry policy (``RetryPolicy``), shared with executions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol

from .._core.decide import RetryPolicy
from .._core.status import SETTLED, Status
from ..conditions import Condition, ConditionContext
from ..errors import JobError
from ._outcome import Outcome

__all__ = [
    "BeginOnDask", "Cancel", "Fail", "GiveUp", "Halt", "Restart", "Retry", "RetryLater", "RunView", "Settle",
    "Start", "Stream", "TakeBack", "Upstream", "Wait", "after_failure", "after_outcome", "gate", "on_cancel",
    "on_rerun",
]


@dataclasses.dataclass(frozen=True)
class Upstream:
    """A job whose result a pending job takes: its status now, and why it ended badly."""

    id: str
    name: str
    status: Status | None
    why: str = ""


@dataclasses.dataclass(frozen=True)
class Start:
    """The job may start (once a slot is free)."""


@dataclasses.dataclass(frozen=True)
class Wait:
    """Keep waiting: until a job it names changes status, and, if ``until`` is set, until that
    time (``poll``: a re-check of a condition that declares nothing)."""

    until: float | None = None
    poll: bool = False


@dataclasses.dataclass(frozen=True)
class Cancel:
    reason: str


@dataclasses.dataclass(frozen=True)
class Fail:
    error: BaseException


Action = Start | Wait | Cancel | Fail


def gate(upstreams: Sequence[Upstream], condition: Condition | None, ctx: ConditionContext, poll_every: float) -> Action:
    """What a pending job does now. Upstreams first: one that failed or was cancelled cancels
    the job, one not done yet keeps it waiting; then its condition. A condition that raises (its
    ``satisfy``, ``job_ids`` or ``deadline``: user code) fails the job."""
    waiting = False
    for up in upstreams:
        if up.status is Status.FAILED or up.status is Status.CANCELLED:
            return Cancel(f"upstream job {up.name!r} ({up.id}) {up.status.value}: {up.why}")
        waiting = waiting or up.status is not Status.DONE
    if waiting:
        return Wait()
    if condition is None:
        return Start()
    try:
        if condition.satisfy(ctx):
            return Start()
        watched = condition.job_ids()
        deadline = None if watched is None else condition.deadline(ctx)
    except Exception as exc:  # noqa: BLE001 - a custom condition's bug fails its job, not the engine
        return Fail(exc)
    if watched is None:
        return Wait(ctx.time() + poll_every, poll=True)
    if deadline is not None:
        return Wait(deadline)
    if all(ctx.job_status(i) in SETTLED for i in watched):
        return Cancel(f"condition {condition!r} can no longer be satisfied")
    return Wait()


@dataclasses.dataclass(frozen=True)
class Retry:
    delay: float


@dataclasses.dataclass(frozen=True)
class GiveUp:
    """Out of retries: the job failed for good."""


def after_failure(failed_attempts: int, policy: RetryPolicy) -> Retry | GiveUp:
    """An attempt failed (``failed_attempts`` so far, this one included)."""
    delay = policy.next_delay(failed_attempts)
    return GiveUp() if delay is None else Retry(delay)


def upstream_of(job: Any, status: Status | None) -> Upstream:
    """The ``Upstream`` view of a job the scheduler knows."""
    if status is Status.CANCELLED:
        why = job.cancel_reason or "cancelled"
    elif status is Status.FAILED:
        why = f"{type(job.error).__name__}: {job.error}"
    else:
        why = ""
    return Upstream(job.id, job.name, status, why)


# -- the end of an attempt, cancelling, re-running -------------------------------------------------


class RunView(Protocol):
    """What the decisions read of a job's current run (a ``JobState`` is one)."""

    @property
    def status(self) -> Status: ...

    @property
    def token(self) -> int: ...

    @property
    def attempts(self) -> int: ...

    @property
    def compiled(self) -> bool: ...


@dataclasses.dataclass(frozen=True)
class BeginOnDask:
    """A job whose gate Dask held reported: it ran there, so it is running now (one attempt)."""


@dataclasses.dataclass(frozen=True)
class Stream:
    """A generator job handed its generator back: it is the job's result while it runs on."""

    value: Any


@dataclasses.dataclass(frozen=True)
class Settle:
    """The job ends with ``status``: ``value`` is its result (done), its exception (failed) or
    why (cancelled)."""

    status: Status
    value: Any


@dataclasses.dataclass(frozen=True)
class RetryLater:
    """The attempt failed with ``error`` and retries are left: pending again, tried in ``delay``."""

    delay: float
    error: BaseException


@dataclasses.dataclass(frozen=True)
class TakeBack:
    """Dask dropped a gate it held without an outcome: the engine decides the gate again."""


@dataclasses.dataclass(frozen=True)
class Halt:
    """Stop the attempt that runs (or waits on Dask) now, best effort."""


@dataclasses.dataclass(frozen=True)
class Restart:
    """Run the job again: a new run, with a new future, pending."""


RunAction = BeginOnDask | Stream | Settle | RetryLater | TakeBack | Halt | Restart


def after_outcome(run: RunView, token: int, outcome: Outcome, policy: RetryPolicy) -> tuple[RunAction, ...]:
    """Attempt ``token`` of the run reported ``outcome``. A report of an attempt that was
    cancelled or superseded, or of a run that is not running, changes nothing."""
    if token != run.token:
        return ()
    if run.compiled and outcome.status == "lost":
        return (TakeBack(),)
    begun: tuple[RunAction, ...] = ()
    attempts = run.attempts
    if run.compiled and run.status is Status.PENDING:
        begun, attempts = (BeginOnDask(),), attempts + 1
    elif run.status is not Status.RUNNING:
        return ()
    return (*begun, _ending(outcome, attempts, policy))


def _ending(outcome: Outcome, attempts: int, policy: RetryPolicy) -> RunAction:
    if outcome.status == "stream":
        return Stream(outcome.value)
    if outcome.status == "done":
        return Settle(Status.DONE, outcome.value)
    if outcome.status == "skipped":
        return Settle(Status.CANCELLED, f"condition not met on Dask: {outcome.value}")
    error = outcome.value if isinstance(outcome.value, BaseException) else JobError(f"Lost: {outcome.value}", "Lost")
    decision = after_failure(attempts, policy)
    return Settle(Status.FAILED, error) if isinstance(decision, GiveUp) else RetryLater(decision.delay, error)


def on_cancel(run: RunView, reason: str, has_handle: bool) -> tuple[RunAction, ...]:
    """Cancel the run: an ended one stays as it is; a running one (or one whose gate Dask holds,
    with its Dask future) is stopped first."""
    if run.status.settled:
        return ()
    halt = run.status is Status.RUNNING or (run.compiled and has_handle)
    return (*((Halt(),) if halt else ()), Settle(Status.CANCELLED, reason))


def on_rerun(run: RunView) -> tuple[RunAction, ...]:
    """Re-run the job: only once its run has ended (a running or pending job runs already)."""
    return (Restart(),) if run.status.settled else ()
