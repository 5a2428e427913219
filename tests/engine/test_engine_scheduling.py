"""The scheduler's decisions, without an engine: upstreams and a condition in, an action out."""

from __future__ import annotations

from typing import Any

import pytest

from pylo import Status
from pylo._core.decide import RetryPolicy
from pylo.conditions import AfterAnother, AfterTimepoint, Condition
from pylo.engine._scheduling import Cancel, Fail, GiveUp, Retry, Start, Upstream, Wait, after_failure, gate


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
