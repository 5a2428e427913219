"""What the scheduler decides, as pure functions: events in, actions out (no threads, no timers).

    gate(upstreams, condition, ctx, poll_every)  a pending job was woken (submitted, a job it
                                                 names changed status, its timer fired) ──►
        Start | Wait(until) | Cancel(reason) | Fail(error)
    after_failure(failed_attempts, policy)       an attempt failed ──► Retry(delay) | GiveUp()

The scheduler (``_core``) carries the actions out: it starts the job, arms one timer, cancels or
fails it. The retry delays are pylo's one retry policy (``RetryPolicy``), shared with executions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from .._core.decide import RetryPolicy
from .._core.status import SETTLED, Status
from ..conditions import Condition, ConditionContext

__all__ = ["Cancel", "Fail", "GiveUp", "Retry", "Start", "Upstream", "Wait", "after_failure", "gate"]


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
