"""Defects found in the engine itself, each pinned by the case that showed it."""

from __future__ import annotations

import gc
import json
import sys
import threading
import warnings
from typing import Any

import pytest

import engine_tasks
from engine_helpers import wait_for
from pylo import Pylo, Status
from pylo.conditions import Condition
from pylo.engine import Engine, ExecutionJob, ThreadJob


class _Broken(Condition):
    """A custom condition whose ``deadline()`` or ``job_ids()`` raises."""

    def __init__(self, where: str) -> None:
        self.where = where

    def satisfy(self, engine: Any) -> bool:
        return False

    def job_ids(self) -> frozenset[str] | None:
        if self.where == "job_ids":
            raise LookupError("job_ids is broken")
        return frozenset()

    def deadline(self, ctx: Any) -> float | None:
        raise LookupError("deadline is broken")


@pytest.mark.parametrize("where", ["deadline", "job_ids"])
def test_a_condition_whose_hooks_raise_fails_its_job(engine: Engine, where: str) -> None:
    """The job stayed pending forever: the hook's error escaped the engine's decision."""
    job = ThreadJob(engine_tasks.add, (1, 1), condition=_Broken(where))
    engine.submit(job)
    assert engine.wait(30)
    assert job.status is Status.FAILED and isinstance(job.error, LookupError) and where in str(job.error)


def test_an_execution_job_whose_task_exits_fails(tmp_path: Any) -> None:
    """A task calling sys.exit left its ExecutionJob running forever."""
    pylo = Pylo.local_multithread(str(tmp_path / "store"), number_of_workers=1)
    with Engine() as engine:
        job = ExecutionJob(pylo, range(3), engine_tasks.leave)
        engine.submit(job)
        assert engine.wait(60)
    assert job.status is Status.FAILED and isinstance(job.error, SystemExit)


def test_a_record_that_is_json_but_not_an_object_is_skipped(tmp_path: Any) -> None:
    """Engine.start() raised AttributeError on it and left its loop thread alive."""
    jobs = tmp_path / "store" / "jobs"
    jobs.mkdir(parents=True)
    (jobs / f"{'0' * 32}.json").write_text(json.dumps([1, 2, 3]))
    with Engine(store=tmp_path / "store") as engine:
        assert engine.records() == []
        assert engine.submit(ThreadJob(engine_tasks.add, (1, 2))).result(30) == 3
    assert not [t for t in threading.enumerate() if t.name == "pylo-engine-loop"]


def test_an_engine_never_started_leaks_nothing() -> None:
    """It made an event loop in its constructor and never closed it (a ResourceWarning the
    suite's blanket filter used to hide)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        engine = Engine()
        engine.stop()  # nothing to stop: fine
        del engine
        gc.collect()
    assert [w for w in seen if issubclass(w.category, ResourceWarning)] == []


def test_an_engine_starts_again_after_a_stop() -> None:
    engine = Engine()
    engine.start()
    engine.start()  # already running: nothing happens
    assert engine.submit(ThreadJob(engine_tasks.add, (1, 1))).result(30) == 2
    engine.stop()
    engine.stop()
    engine.start()
    assert engine.submit(ThreadJob(engine_tasks.add, (2, 2))).result(30) == 4
    engine.stop()


@pytest.mark.slow
def test_a_dask_job_result_is_released_on_the_cluster_when_it_settles(dask_client: Any) -> None:
    """Finished Dask jobs kept their result pinned in the cluster's memory as long as the job
    object lived."""
    from pylo.engine import DaskJob

    def keys(dask_scheduler: Any) -> list[str]:
        return [str(k) for k in dask_scheduler.tasks]

    with Engine(dask_client=dask_client) as engine:
        job = DaskJob(engine_tasks.add, (20, 22))
        engine.submit(job)
        assert engine.wait_job(job, 120) == 42
        wait_for(lambda: not [k for k in dask_client.run_on_scheduler(keys) if job.id in k], timeout=60)
        assert job.result() == 42  # kept on the job


def test_the_engine_loop_survives_a_local_job_that_exits(engine: Engine) -> None:
    from pylo.engine import LocalJob

    job = LocalJob(sys.exit, (4,))
    engine.submit(job)
    assert engine.wait(30) and job.status is Status.FAILED
    assert engine.submit(LocalJob(engine_tasks.add, (1, 1))).result(30) == 2
