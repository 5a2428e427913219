"""The scheduler's decisions, without an engine: upstreams and a condition in, an action out;
a run's state and an event (an outcome, a cancel, a re-run) in, actions out."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pylo import Status
from pylo._core.decide import RetryPolicy
from pylo.conditions import AfterAnother, AfterTimepoint, Condition
from pylo.engine._outcome import Outcome
from pylo.engine._scheduling import (
    BeginOnDask, Cancel, Fail, GiveUp, Halt, Restart, Retry, RetryLater, Settle, Start, Stream, TakeBack, Upstream,
    Wait, after_failure, after_outcome, gate, on_cancel, on_rerun,
)
from pylo.errors import JobError


class Ctx:
    """A condition context: job statuses and a time, set by the test."""

    def __init__(self, now: float = 100.0, **statuses: Status) -> None:
        self.now, self.statuses = now, statuses

    def job_status(self, job_id: str) -> Status | None:
        return self.statuses.get(job_id)

    def time(self) -> float:
        return self.now


class Opaque(Condition):
    def satisfy(self, engine: Any) -> bool:
        return False


class Raising(Condition):
    def satisfy(self, engine: Any) -> bool:
        raise KeyError("satisfy")


def up(status: Status | None, why: str = "") -> Upstream:
    return Upstream("u1", "first", status, why)


@pytest.mark.parametrize(
    "ups, condition, ctx, expected",
    [
        ([], None, Ctx(), Start()),
        ([up(Status.DONE)], None, Ctx(), Start()),
        ([up(Status.RUNNING)], None, Ctx(), Wait()),
        ([up(None)], None, Ctx(), Wait()),  # not submitted yet: it may be, later
        ([up(Status.FAILED, "ValueError: x")], None, Ctx(), Cancel("upstream job 'first' (u1) failed: ValueError: x")),
        ([up(Status.CANCELLED, "by user")], AfterTimepoint(0), Ctx(), Cancel("upstream job 'first' (u1) cancelled: by user")),
        ([], AfterAnother("a"), Ctx(a=Status.DONE), Start()),
        ([], AfterAnother("a"), Ctx(a=Status.RUNNING), Wait()),
        ([], AfterAnother("a", statuses=["failed"]), Ctx(a=Status.DONE),
         Cancel("condition AfterAnother('a', statuses=failed) can no longer be satisfied")),
        ([], AfterTimepoint(150.0), Ctx(now=100.0), Wait(150.0)),
        ([], AfterTimepoint(150.0), Ctx(now=150.0), Start()),
        ([], Opaque(), Ctx(now=100.0), Wait(100.5, poll=True)),
        ([up(Status.RUNNING)], Raising(), Ctx(), Wait()),  # the condition is not asked before its upstreams
    ],
)
def test_gate(ups: list[Upstream], condition: Condition | None, ctx: Ctx, expected: object) -> None:
    assert gate(ups, condition, ctx, poll_every=0.5) == expected


def test_a_raising_condition_fails_the_job() -> None:
    action = gate([], Raising(), Ctx(), poll_every=0.5)
    assert isinstance(action, Fail) and isinstance(action.error, KeyError)


@pytest.mark.parametrize(
    "failed, expected",
    [(1, Retry(2.0)), (2, Retry(4.0)), (3, Retry(5.0)), (4, GiveUp())],
)
def test_after_failure_follows_the_one_retry_policy(failed: int, expected: object) -> None:
    policy = RetryPolicy(retries=3, delay=2.0, backoff=2.0, max_delay=5.0)
    assert after_failure(failed, policy) == expected


# -- the end of an attempt, cancelling, re-running: a run's state in, actions out ----------------

@dataclasses.dataclass(frozen=True)
class Run:
    """What the decisions read of a run, built directly."""

    status: Status = Status.RUNNING
    token: int = 1
    attempts: int = 1
    compiled: bool = False


BOOM = ValueError("boom")
TWO_RETRIES = RetryPolicy(retries=2, delay=5.0, backoff=2.0, max_delay=60.0)


@pytest.mark.parametrize(
    "run, token, outcome, policy, expected",
    [
        (Run(), 1, Outcome("done", 42), RetryPolicy(), (Settle(Status.DONE, 42),)),
        (Run(), 1, Outcome("failed", BOOM), RetryPolicy(), (Settle(Status.FAILED, BOOM),)),
        (Run(), 1, Outcome("stream", "gen"), RetryPolicy(), (Stream("gen"),)),
        (Run(), 1, Outcome("skipped", "upstream failed"), RetryPolicy(),
         (Settle(Status.CANCELLED, "condition not met on Dask: upstream failed"),)),
        # retries: the n-th failed attempt waits delay * backoff**(n-1), the last one gives up
        (Run(attempts=1), 1, Outcome("failed", BOOM), TWO_RETRIES, (RetryLater(5.0, BOOM),)),
        (Run(attempts=2), 1, Outcome("failed", BOOM), TWO_RETRIES, (RetryLater(10.0, BOOM),)),
        (Run(attempts=3), 1, Outcome("failed", BOOM), TWO_RETRIES, (Settle(Status.FAILED, BOOM),)),
        # a report of an attempt that was cancelled or superseded changes nothing
        (Run(token=2), 1, Outcome("done", 42), RetryPolicy(), ()),
        (Run(status=Status.CANCELLED, token=1), 1, Outcome("done", 42), RetryPolicy(), ()),
        (Run(status=Status.PENDING, token=1), 1, Outcome("done", 42), RetryPolicy(), ()),
        # a job whose gate Dask held ran there: it starts as it reports, and counts that attempt
        (Run(status=Status.PENDING, attempts=0, compiled=True), 1, Outcome("done", 3), RetryPolicy(),
         (BeginOnDask(), Settle(Status.DONE, 3))),
        (Run(status=Status.PENDING, attempts=0, compiled=True), 1, Outcome("failed", BOOM), TWO_RETRIES,
         (BeginOnDask(), RetryLater(5.0, BOOM))),
        (Run(status=Status.RUNNING, compiled=True), 1, Outcome("done", 3), RetryPolicy(), (Settle(Status.DONE, 3),)),
        # Dask dropped the gate without an outcome: the engine takes it back, running or not
        (Run(status=Status.PENDING, attempts=0, compiled=True), 1, Outcome("lost", "scheduler gone"), RetryPolicy(),
         (TakeBack(),)),
        (Run(compiled=True), 1, Outcome("lost", "scheduler gone"), RetryPolicy(), (TakeBack(),)),
    ],
)
def test_after_outcome(run: Run, token: int, outcome: Outcome, policy: RetryPolicy, expected: tuple[Any, ...]) -> None:
    assert after_outcome(run, token, outcome, policy) == expected


def test_an_outcome_that_is_no_exception_fails_the_job_as_lost() -> None:
    (action,) = after_outcome(Run(), 1, Outcome("lost", "worker died"), RetryPolicy())
    assert isinstance(action, Settle) and action.status is Status.FAILED
    assert isinstance(action.value, JobError) and str(action.value) == "Lost: worker died"


@pytest.mark.parametrize(
    "run, has_handle, expected",
    [
        (Run(status=Status.RUNNING), True, (Halt(), Settle(Status.CANCELLED, "why"))),
        (Run(status=Status.PENDING), False, (Settle(Status.CANCELLED, "why"),)),
        (Run(status=Status.PENDING, compiled=True), True, (Halt(), Settle(Status.CANCELLED, "why"))),  # its Dask task
        (Run(status=Status.PENDING, compiled=True), False, (Settle(Status.CANCELLED, "why"),)),
        *[(Run(status=ended), True, ()) for ended in (Status.DONE, Status.FAILED, Status.CANCELLED)],
    ],
)
def test_on_cancel(run: Run, has_handle: bool, expected: tuple[Any, ...]) -> None:
    assert on_cancel(run, "why", has_handle) == expected


@pytest.mark.parametrize(
    "status, expected",
    [(Status.DONE, (Restart(),)), (Status.FAILED, (Restart(),)), (Status.CANCELLED, (Restart(),)),
     (Status.PENDING, ()), (Status.RUNNING, ())],
)
def test_on_rerun(status: Status, expected: tuple[Any, ...]) -> None:
    assert on_rerun(Run(status=status)) == expected
