"""Pure pieces of the engine: slots, and which gates the Dask scheduler can hold."""

from __future__ import annotations

from typing import Any

import pytest

import engine_tasks
from pylo import InvalidArgument
from pylo.conditions import AfterAnother, AfterOthers, AfterTimepoint
from pylo.engine import DaskJob, ThreadJob
from pylo.engine._dask_gates import dask_plan, in_flight
from pylo.engine._slots import Slots


def test_slots_total_and_per_kind() -> None:
    slots = Slots(3, {"thread": 2, "process": None})
    slots.take("thread")
    slots.take("thread")
    assert not slots.free("thread") and slots.free("process")
    slots.take("process")
    assert not slots.free("process")  # the total is reached
    slots.give("thread")
    assert slots.free("process") and slots.free("thread")
    with pytest.raises(RuntimeError):
        Slots(None, {}).give("thread")
    with pytest.raises(InvalidArgument, match="limit of"):
        Slots(None, {"thread": 0})


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (AfterAnother("a", statuses=["failed"]), {"a": {"failed"}}),
        (AfterAnother("a") & AfterAnother("b", statuses=["done"]), {"a": {"done", "failed", "cancelled"}, "b": {"done"}}),
        (AfterOthers(["a", "b"], statuses=["done", "failed"]), {"a": {"done", "failed"}, "b": {"done", "failed"}}),
        (AfterAnother("a") | AfterAnother("b"), None),  # any-of: the engine decides
        (AfterAnother("a") & AfterTimepoint(0.0), None),  # time: the engine decides
        (AfterOthers(["a", "b"], mode="any"), None),
    ],
)
def test_dask_plan(condition: Any, expected: dict[str, set[str]] | None) -> None:
    plan = dask_plan(condition, [], lambda job_id: job_id in ("a", "b"))
    assert (None if plan is None else {job_id: set(s) for job_id, s in plan}) == expected


def test_dask_plan_needs_every_upstream_in_flight_on_dask() -> None:
    flying = {"a"}.__contains__
    assert dask_plan(None, ["a"], flying) == [("a", frozenset({"done"}))]  # a result argument
    assert dask_plan(AfterAnother("a") & AfterAnother("t"), [], flying) is None  # t is not on Dask
    assert dask_plan(None, [], flying) is None  # nothing to wait for


def test_in_flight_means_a_dask_job_handed_over_and_not_settled() -> None:
    job = DaskJob(engine_tasks.add, (1, 2))
    assert not in_flight(job, None)  # not handed to Dask yet
    assert not in_flight(ThreadJob(engine_tasks.add, (1, 1)), object())
    assert in_flight(job, object())  # its attempt holds a Dask future, and it is pending
    assert not in_flight(DaskJob(engine_tasks.add, (1, 2), retries=1), object())  # a retry makes a new future
