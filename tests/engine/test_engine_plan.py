"""Pure pieces of the engine: slots, and which gates the Dask scheduler can hold."""

from __future__ import annotations

from typing import Any

import pytest

import engine_tasks
from pylo import InvalidArgument, Status
from pylo.conditions import AfterAnother, AfterOthers, AfterTimepoint
from pylo.engine import DaskJob, ThreadJob
from pylo.engine._dask_job import dask_plan
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


def _running_dask(**options: Any) -> DaskJob:
    job = DaskJob(engine_tasks.add, (1, 2), **options)
    job._dask_future = object()  # stands for the future of a job already handed to Dask
    job._status = Status.RUNNING
    return job


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (lambda a, b: AfterAnother(a.id, statuses=["failed"]), {"a": {"failed"}}),
        (lambda a, b: AfterAnother(a.id) & AfterAnother(b.id, statuses=["done"]),
         {"a": {"done", "failed", "cancelled"}, "b": {"done"}}),
        (lambda a, b: AfterOthers([a.id, b.id], statuses=["done", "failed"]), {"a": {"done", "failed"}, "b": {"done", "failed"}}),
        (lambda a, b: AfterAnother(a.id) | AfterAnother(b.id), None),  # any-of: the engine decides
        (lambda a, b: AfterAnother(a.id) & AfterTimepoint(0.0), None),  # time: the engine decides
        (lambda a, b: AfterOthers([a.id, b.id], mode="any"), None),
    ],
)
def test_dask_plan(condition: Any, expected: dict[str, set[str]] | None) -> None:
    a, b = _running_dask(), _running_dask()
    down = DaskJob(engine_tasks.add, (1, 1), condition=condition(a, b))
    plan = dask_plan(down, [], {"x": a, a.id: a, b.id: b})
    names = {a.id: "a", b.id: "b"}
    assert (None if plan is None else {names[up.id]: set(s) for up, s in plan}) == expected


def test_dask_plan_needs_dask_upstreams_in_flight() -> None:
    a = _running_dask()
    thread = ThreadJob(engine_tasks.add, (1, 1))
    retried = _running_dask(retries=1)
    done = _running_dask()
    done._status = Status.DONE
    jobs = {j.id: j for j in (a, thread, retried, done)}
    assert dask_plan(DaskJob(engine_tasks.identity, (a,)), [a], jobs) == [(a, frozenset({"done"}))]
    for up in (thread, retried, done):
        assert dask_plan(DaskJob(engine_tasks.add, (1, 1), condition=AfterAnother(up.id)), [], jobs) is None
