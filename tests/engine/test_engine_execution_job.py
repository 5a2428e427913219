"""A pylo execution as a job: run it after another job, resume it after it."""

from __future__ import annotations

import os
from typing import Any

import pytest

import engine_tasks
from pylo import Pylo, Status
from pylo.errors import ExecutionUnfinished
from pylo.conditions import AfterAnother
from pylo.engine import Engine, ExecutionJob, ThreadJob


def fail_odd(x: int) -> None:
    if x % 2:
        raise ValueError(x)


def test_execution_after_a_job_then_its_resume(tmp_path: Any) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "store"), number_of_workers=2)
    with Engine() as eng:
        prepare = ThreadJob(engine_tasks.add, (1, 1))
        first = ExecutionJob(pylo, range(10), fail_odd, condition=AfterAnother(prepare.id, statuses=["done"]))
        second = ExecutionJob(pylo, task=engine_tasks.identity, resume=first)  # resumes first's execution
        for job in (second, first, prepare):
            eng.submit(job)
        eng.wait(60)
        # inputs failed: the first job failed (it is not "done"), and the resume ran after it
        assert first.status is Status.FAILED and second.status is Status.DONE
        assert first.started is not None and prepare.stopped is not None and first.started >= prepare.stopped
    assert isinstance(first.error, ExecutionUnfinished) and first.error.execution_id == first.execution_id
    finished, unfinished = pylo.get_state(first.execution_id)
    assert finished == [0, 2, 4, 6, 8] and unfinished == [1, 3, 5, 7, 9]
    assert pylo.get_state(second.result()) == (list(range(10)), [])


def test_resume_only_if_it_failed(tmp_path: Any) -> None:
    """An execution that left inputs failed used to end its job "done", so a pipeline step
    "resume it if it failed" could never run; without fail_on_unfinished it still ends done."""
    pylo = Pylo.local_multithread(str(tmp_path / "store"), number_of_workers=2)
    with Engine() as eng:
        clean = ExecutionJob(pylo, [0, 2, 4], fail_odd)
        lenient = ExecutionJob(pylo, range(4), fail_odd, fail_on_unfinished=False)
        mend_clean = ExecutionJob(pylo, task=engine_tasks.identity, resume=clean.future,
                                  condition=AfterAnother(clean.id, statuses=["failed"]))
        eng.submit(clean, lenient, mend_clean)
        eng.wait(60)
    assert clean.status is Status.DONE and clean.result() == clean.execution_id
    assert lenient.status is Status.DONE and pylo.get_state(lenient.result())[1] == [1, 3]
    assert mend_clean.status is Status.CANCELLED  # its condition can no longer hold


def test_bad_execution_job_arguments() -> None:
    from pylo import InvalidArgument

    with pytest.raises(InvalidArgument):
        ExecutionJob(object(), range(3), None)
    with pytest.raises(InvalidArgument):
        ExecutionJob(object(), range(3), print, resume="x")


def wait_then_pass(release: str, x: int) -> None:
    open(f"{release}.started", "a").close()  # the test may now count on an input in flight
    engine_tasks.wait_for_file(release)


def test_cancelling_an_execution_job_cancels_its_run(tmp_path: Any) -> None:
    import functools

    from engine_helpers import wait_for

    release = str(tmp_path / "release")
    pylo = Pylo.local_multithread(str(tmp_path / "store"), number_of_workers=1, block_size=10)
    with Engine() as eng:
        job = ExecutionJob(pylo, range(100), functools.partial(wait_then_pass, release))
        eng.submit(job)
        wait_for(lambda: job.run is not None)
        assert eng.cancel(job) and job.status is Status.CANCELLED
        open(release, "w").close()
        eid = job.run.wait(60)
    assert job.run.status is Status.CANCELLED
    finished, unfinished = pylo.get_state(eid)
    assert len(finished) < 100 and len(finished) + len(unfinished) == 100


def test_a_retry_resumes_the_failed_attempt_instead_of_rereading_its_generator(tmp_path: Any) -> None:
    """A retry called ``pylo.submit`` again on the generator the first attempt had
    consumed: an empty execution, and the job ended done."""
    import functools

    from engine_helpers import wait_for

    release = str(tmp_path / "release")
    pylo = Pylo.local_multithread(str(tmp_path / "store"), number_of_workers=1, block_size=10)
    with Engine() as eng:
        job = ExecutionJob(pylo, (x for x in range(20)), functools.partial(wait_then_pass, release), retries=1)
        eng.submit(job)
        wait_for(lambda: job.run is not None)
        first = job.run
        first.cancel()  # not through the engine: the attempt fails (ExecutionInterrupted)
        open(release, "w").close()
        eid = job.result(60)
    assert job.attempts == 2 and first.status is Status.CANCELLED
    assert pylo.summary(eid).parent == first.id
    assert pylo.get_state(eid) == (list(range(20)), [])


def test_a_rerun_resumes_the_last_execution(tmp_path: Any) -> None:
    """A re-run of a job over a generator ran an empty execution."""
    pylo = Pylo.local_multithread(str(tmp_path / "store"), number_of_workers=2)
    with Engine() as eng:
        job = ExecutionJob(pylo, (x for x in range(10)), engine_tasks.identity)
        first = eng.submit(job).result(60)
        second = eng.rerun(job).result(60)
    assert second != first and pylo.summary(second).parent == first
    assert pylo.get_state(second) == (list(range(10)), [])


def test_a_rerun_right_after_a_cancel_waits_for_the_cancelled_run(tmp_path: Any) -> None:
    """The re-run resumes the cancelled attempt's execution, which its run holds until its
    workers have flushed: the new attempt starts after that instead of failing on the claim."""
    import functools

    from engine_helpers import wait_for

    release = str(tmp_path / "release")
    pylo = Pylo.local_multithread(str(tmp_path / "store"), number_of_workers=1, block_size=10)
    with Engine() as eng:
        job = ExecutionJob(pylo, (x for x in range(20)), functools.partial(wait_then_pass, release))
        eng.submit(job)
        wait_for(lambda: os.path.exists(f"{release}.started"))  # a worker is inside the task
        first = job.run
        assert eng.cancel(job)
        again = eng.rerun(job)
        assert not first.done()  # still flushing: it waits for the release
        open(release, "w").close()
        eid = again.result(60)
    assert first.status is Status.CANCELLED and pylo.summary(eid).parent == first.id
    assert pylo.get_state(eid) == (list(range(20)), [])
