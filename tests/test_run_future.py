"""A ``Run`` answers what a future answers, and Dask's own tools refuse it instead of returning
at once (it is many Dask tasks, none of which stands for the execution's end)."""

from __future__ import annotations

import concurrent.futures
import threading
from pathlib import Path
from typing import Any

import distributed
import pytest
from distributed.diagnostics.progressbar import progress

from pylo import Pylo, Run
from pylo._core.status import Status
from tests.tasks import noop


def test_a_run_on_threads_is_a_concurrent_future(tmp_path: Path) -> None:
    gate = threading.Event()
    pylo = Pylo.local_multithread(tmp_path, 2)
    run = pylo.submit(range(6), lambda x: gate.wait(60))
    ended: list[Run] = []
    run.add_done_callback(ended.append)
    assert not run.done() and run.running() and not run.cancelled()
    assert run.progress().ended is False
    with pytest.raises(TimeoutError):
        run.result(timeout=0.01)
    with pytest.raises(TimeoutError):
        run.exception(timeout=0.01)
    gate.set()
    assert run.result(timeout=60) == run.id
    assert run.exception() is None
    assert ended == [run]
    assert run.done() and not run.running()
    assert run.progress().ended is True
    assert run.progress().finished == 6
    done, not_done = concurrent.futures.wait([run.future], timeout=60)
    assert done == {run.future} and not not_done
    late: list[Run] = []
    run.add_done_callback(late.append)  # once ended: called at once
    assert late == [run]


def test_cancel_says_whether_it_asked(tmp_path: Path) -> None:
    gate = threading.Event()
    pylo = Pylo.local_multithread(tmp_path, 1)
    run = pylo.submit(range(3), lambda x: gate.wait(60))
    assert run.cancel() is True
    assert run.cancel() is False  # asked already
    gate.set()
    assert run.result(timeout=60) == run.id
    assert run.cancelled() and run.status is Status.CANCELLED
    assert run.cancel() is False


def test_an_attached_run_is_one_too(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(tmp_path, 1)
    eid = pylo.start_from_scratch(range(3), noop, progress=False)
    run = pylo.attach(eid, poll=0.05)
    assert run.result(timeout=60) == eid
    assert run.progress().ended and run.progress().finished == 3


def test_a_run_on_threads_refuses_dasks_tools(tmp_path: Path, dask_client: Any) -> None:
    """No Dask future stands behind a run on threads: Dask's tools say what to use instead."""
    pylo = Pylo.local_multithread(tmp_path, 1)
    run = pylo.submit(range(3), noop)
    message = r"not a Dask future.*run\.result\(\)"
    with pytest.raises(TypeError, match=message):
        distributed.wait([run])
    with pytest.raises(TypeError, match=message):
        progress(run)
    with pytest.raises(TypeError, match=message):
        dask_client.compute(run)
    assert run.result(timeout=60) == run.id


def _gated(name: str, x: int) -> None:
    """Waits until the Dask event ``name`` is set (a gate across processes)."""
    distributed.Event(name).wait(60)


def test_dasks_tools_follow_a_run_on_dask(tmp_path: Path, dask_client: Any) -> None:
    """A user's script: submit on Dask, then wait, as_completed, progress and gather as for any
    Dask future. Each returns when the execution has ended, not at once."""
    import functools

    gate = distributed.Event(f"gate-{tmp_path.name}", client=dask_client)
    pylo = Pylo.dask(dask_client, tmp_path / "store")
    run = pylo.submit(range(8), functools.partial(_gated, gate.name))
    with pytest.raises(TimeoutError):  # not at once: the inputs wait on the gate
        distributed.wait([run], timeout=0.5)
    assert not run.done()
    gate.set()
    distributed.wait([run], timeout=90)
    assert run.done() and run.progress().ended
    assert pylo.summary(run.id).finished == 8
    assert [f.key for f in distributed.as_completed([run], timeout=90)] == [run.key]
    assert dask_client.gather(run) == run.id
    assert dask_client.gather([run]) == [run.id]
    # Dask's progress bar asks the default client's scheduler: in this test session another
    # (in-process) cluster's client may be the default, as for a user with two clients.
    with dask_client.as_current():
        progress(run, notebook=False)
    assert run.result() == run.id and run.exception() is None
    assert run.status is Status.DONE


def test_an_attached_run_on_dask_is_a_dask_future(tmp_path: Path, dask_client: Any) -> None:
    pylo = Pylo.dask(dask_client, tmp_path)
    eid = pylo.start_from_scratch(range(4), noop, progress=False)
    run = pylo.attach(eid, poll=0.05)
    distributed.wait([run], timeout=90)
    assert run.done() and dask_client.gather(run) == eid


def test_the_runs_own_tasks_take_the_free_threads_before_its_watcher(tmp_path: Path, dask_inproc_client: Any) -> None:
    # Each Dask worker has one thread: the task it starts first is the one that reached it first.
    # The watcher, submitted before the workers' tasks, took a thread first and held a block back
    # until it seceded (3 ms of a 29 ms run of 8 inputs).
    pylo = Pylo.dask(dask_inproc_client, tmp_path / "store")
    run = pylo.submit(range(4), noop)
    run.wait(60)
    distributed.wait([run], timeout=60)  # the watcher ended too
    firsts = []
    for worker in dask_inproc_client.cluster.workers.values():
        ours = [entry[0] for entry in worker.state.log
                if entry[2] == "executing" and (run.id in str(entry[0]) or entry[0] == run.key)]
        if ours:
            firsts.append(ours[0])
    assert firsts and run.key not in firsts, firsts
    assert dask_inproc_client.gather(run) == run.id


def test_a_run_with_no_task_to_submit_is_still_a_finished_dask_future(tmp_path: Path, dask_inproc_client: Any) -> None:
    pylo = Pylo.dask(dask_inproc_client, tmp_path / "store")
    run = pylo.submit([], noop)  # no block: it settles before any task of its own is submitted
    distributed.wait([run], timeout=60)
    assert run.status is Status.DONE and dask_inproc_client.gather(run) == run.id
