"""The life of a Dask run beyond the happy path: cancelled while its tasks cannot even be
scheduled, resubmitted after KilledWorker with its restrictions, a worker retired mid-run, the
scheduler lost; and the block loop under a task that forks or fails with huge messages."""

from __future__ import annotations

import functools
import os
import signal
from pathlib import Path
from typing import Any

import dask
import pytest

import fault_tasks
import tasks
from _support import wait_for, wait_flushed
from pylo import ClusterLost, ExecutionStatus, Pylo, PyloError, Status
from pylo._ui import cli_text

pytestmark = pytest.mark.slow


def test_a_run_whose_tasks_cannot_be_scheduled_is_cancelled_and_ends(make_cluster: Any, tmp_path: Path) -> None:
    client = make_cluster(n_workers=1)
    pylo = Pylo.dask(client, str(tmp_path / "s"), resources={"GPU": 1}, number_of_workers=4, block_size=5)
    run = pylo.submit(range(20_000), tasks.noop)  # 4,000 blocks, no worker has a GPU
    run.cancel()
    assert run.wait(30) == run.id and run.status is Status.CANCELLED
    summary = pylo.summary(run.id)
    assert summary.pending == 20_000 and summary.finished == 0
    resumed = Pylo.dask(client, str(tmp_path / "s")).start_from_past_execution(run.id, tasks.noop, progress=False)
    assert pylo.summary(resumed).finished == 20_000


def test_a_resubmission_after_killed_worker_keeps_its_restrictions_and_annotations(
    make_cluster: Any, tmp_path: Path
) -> None:
    client = make_cluster(n_workers=1, **{"distributed.scheduler.allowed-failures": 0,
                                          "distributed.worker.resources.R": 1})
    calls = tmp_path / "calls"
    calls.mkdir()
    pylo = Pylo.dask(client, str(tmp_path / "s"), resources={"R": 1}, number_of_workers=1, block_size=5)
    with dask.annotate(team="pylo-test"):
        run = pylo.submit(range(20), functools.partial(fault_tasks.kills_its_worker, str(calls), 2))

    def resubmitted(dask_scheduler: Any) -> list[Any]:
        return [(ts.resource_restrictions, ts.annotations.get("team")) for key, ts in dask_scheduler.tasks.items()
                if str(key).endswith("-r1")]

    # The nanny restarts the killed worker without its resources, so the resubmission waits for one.
    assert wait_for(lambda: client.run_on_scheduler(resubmitted), "the resubmission") == [({"R": 1}, "pylo-test")]
    run.cancel()
    assert run.wait(30) == run.id and run.status is Status.CANCELLED
    # KilledWorker no longer loses the block: the resubmission carries on looking for the input
    # that kills its process (it never got a worker with R here: nothing ran, nothing is lost).
    assert pylo.store.read_workers(run.id)[0]["lost_blocks"] == []
    assert pylo.summary(run.id).pending == 20


def test_a_worker_retired_mid_run_leaves_the_counts_equal_to_the_store(make_cluster: Any, tmp_path: Path) -> None:
    client = make_cluster(n_workers=2)
    calls, gates = tmp_path / "calls", tmp_path / "gates"
    calls.mkdir(), gates.mkdir()
    pylo = Pylo.dask(client, str(tmp_path / "s"), number_of_workers=2, block_size=10,
                     task_executions_before_flush=2, flush_interval=60.0)
    run = pylo.submit(range(60), functools.partial(fault_tasks.gated, str(calls), str(gates), [13]))
    pid = wait_for(lambda: (gates / "gate-13").exists() and int((gates / "gate-13").read_text()), "gate 13")
    wait_flushed(pylo.store, run.id, 13, 2, 10)
    [address] = [a for a, p in client.run(os.getpid).items() if p == pid]
    client.retire_workers([address], close_workers=True)
    (gates / "open-13").touch()
    assert run.wait(90) == run.id
    summary = pylo.summary(run.id)
    progress = run.progress()
    assert (progress.finished, progress.failed, progress.pending) == (summary.finished, summary.failed, summary.pending)
    assert summary.finished == 60


def test_a_lost_scheduler_raises_cluster_lost_with_dask_reason(external_cluster: Any, tmp_path: Path) -> None:
    calls, gates = tmp_path / "calls", tmp_path / "gates"
    calls.mkdir(), gates.mkdir()
    pylo = Pylo.dask(str(external_cluster), str(tmp_path / "s"), number_of_workers=2, block_size=5)
    try:
        run = pylo.submit(range(20), functools.partial(fault_tasks.gated, str(calls), str(gates), [2]))
        wait_for(lambda: (gates / "gate-2").exists(), "gate 2")
        os.killpg(external_cluster.scheduler.pid, signal.SIGKILL)
        with pytest.raises(ClusterLost, match=r"cluster was lost \(.+\).*start_from_past_execution") as info:
            run.wait(120)
        assert isinstance(info.value, PyloError) and run.status is Status.FAILED
        # Every view says what happened, not "cancelled": the run, the store, ``pylo status``.
        assert run.reason == "cluster lost: interrupted, resumable"
        summary = pylo.summary(run.id)
        assert (summary.stopped, summary.reason) == ("cluster lost", run.reason)
        assert summary.status is not ExecutionStatus.CANCELLED
        assert f"({run.reason})" in cli_text.summary(summary).splitlines()[0]
    finally:
        (gates / "open-2").touch()
        pylo.close()


def test_a_task_that_forks_leaves_its_parents_claim_and_outcome_alone(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1)
    eid = pylo.start_from_scratch(range(6), functools.partial(fault_tasks.forks, str(tmp_path / "s")),
                                  progress=False)
    assert pylo.get_exceptions(eid) == []
    assert pylo.get_state(eid) == (list(range(6)), [])
    [outcome] = pylo.store.read_workers(eid).values()
    assert outcome["cancelled"] is False and outcome["finished"] == 6
    names = pylo.store.files.listdir(pylo.store.layout.claims_dir(eid))
    assert sorted(n.rsplit("/", 1)[-1] for n in names) == ["000001.json", "000001.released"]


def test_large_exception_records_are_flushed_early_on_size(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1, task_executions_before_flush=1000,
                                  flush_interval=600.0)
    eid = pylo.start_from_scratch(range(60), functools.partial(fault_tasks.fails_loudly, 60_000), progress=False)
    assert len(pylo.get_exceptions(eid)) == 60
    errors = pylo.store.files.find(pylo.store.layout.errors_dir(eid))
    assert len(errors) >= 3  # ~3.6 MB of messages: flushed on size, not once at the end of the block


def test_a_repeated_progress_event_counts_once() -> None:
    from pylo import Run
    from pylo._core.block import Delta

    run = Run("20261201T000000000000Z-00000000", 10)
    delta = Delta("20261201T000000000000Z-00000000", 0, 0, finished=4, failed=1, attempts=5, seq=0, writer="a" * 12)
    run.on_delta(delta)
    run.on_delta(delta)  # the same flush reported twice
    assert (run.progress().finished, run.progress().failed) == (4, 1)


def test_a_finished_dask_run_drops_its_progress_handler(dask_client: Any, tmp_path: Path) -> None:
    pylo = Pylo.dask(dask_client, str(tmp_path / "s"), number_of_workers=2)
    eid = pylo.start_from_scratch(range(10), tasks.noop, progress=False)
    handlers = [h for t, h in dask_client._event_handlers.items() if eid in str(t)]
    assert all(getattr(h, "__self__", None) is None for h in handlers)  # no driver, no run kept alive
    assert eid not in pylo.backend._drivers


def test_the_task_travels_to_the_cluster_once_not_with_every_block(dask_client: Any, tmp_path: Path) -> None:
    import pickle

    blob = os.urandom(1 << 20)  # a task closing over 1 MB
    gates = tmp_path / "gates"
    gates.mkdir()
    pylo = Pylo.dask(dask_client, str(tmp_path / "s"), number_of_workers=2, block_size=2)
    task = functools.partial(fault_tasks.gated_with_payload, blob, str(tmp_path), str(gates), [1])
    run = pylo.submit(range(40), task)  # 20 blocks
    try:
        wait_for(lambda: (gates / "gate-1").exists(), "the run to start")

        def spec_bytes(dask_scheduler: Any) -> int:
            return sum(len(pickle.dumps(ts.run_spec)) for key, ts in dask_scheduler.tasks.items() if "pylo-" in str(key))

        assert dask_client.run_on_scheduler(spec_bytes) < 100_000  # 20 blocks × 1 MB before
    finally:
        (gates / "open-1").touch()
    run.wait(60)
    assert pylo.summary(run.id).finished == 40


def test_a_cancel_reaches_twenty_thousand_queued_blocks_within_seconds(dask_inproc_client: Any, tmp_path: Path) -> None:
    # Each worker is held at the first input of its 10,000 one-input blocks; the cancel must stop
    # both between inputs, leaving the rest pending, instead of draining the queue.
    import uuid

    gates = tmp_path / "gates"
    gates.mkdir()
    inputs: list[Any] = list(range(20_000))
    inputs[0] = inputs[10_000] = "until:open"
    pylo = Pylo.dask(dask_inproc_client, f"memory://pylo-{uuid.uuid4().hex}", number_of_workers=2, block_size=1)
    run = pylo.submit(inputs, functools.partial(tasks.wait_for_file, str(gates)))
    assert len(pylo.store.read_manifest(run.id).blocks) == 20_000
    run.cancel()
    (gates / "open").touch()
    assert run.wait(timeout=15) == run.id and run.status is Status.CANCELLED
    summary = pylo.summary(run.id)
    assert summary.finished + summary.pending == 20_000 and summary.pending >= 19_000, summary


def test_a_worker_task_cancelled_once_it_finished_reads_as_cancelled_not_as_the_run_failing(
    dask_client: Any,
) -> None:
    # Cancelling a run cancels all its Dask tasks, also those that finished meanwhile. The drive
    # loop once read "finished" off the status, then asked for the result of a future cancelled in
    # between: the cancelled run ended "failed" (seen under load after a Ctrl-C). A task's end is
    # now read from the future once.
    from concurrent.futures import CancelledError

    from pylo.backends._dask import _outcome

    fut = dask_client.submit(abs, -7, pure=False)
    assert _outcome(fut) == (7, None)
    dask_client.cancel([fut], reason="pylo: the execution was cancelled")
    counts, failure = _outcome(fut)
    assert counts is None and isinstance(failure, CancelledError)
    assert "the execution was cancelled" in str(failure)
    failing = dask_client.submit(int, "not a number", pure=False)
    counts, failure = _outcome(failing)
    assert counts is None and isinstance(failure, ValueError)
