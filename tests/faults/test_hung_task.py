"""A task that never returns (no ``timeout`` set): a cancelled run still ends, after its
``cancel_grace``, as cancelled with the stuck input pending, and says that it abandoned the
thread; a resume then runs what is left."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

import tasks
from pylo import ExecutionStatus, Pylo, Status

STUCK = 3


def test_a_cancelled_run_whose_task_hangs_ends_after_the_grace(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    release, stuck = threading.Event(), threading.Event()

    def hangs_on_3(x: int) -> None:
        if x == STUCK:
            stuck.set()
            release.wait()  # a call that never returns, until the test ends

    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=2, block_size=5, cancel_grace=0.5)
    try:
        run = pylo.submit(iter(range(20)), hangs_on_3)  # a generator: blocks of 5, worker 0 takes 0-4
        assert stuck.wait(60)
        with caplog.at_level(logging.WARNING, logger="pylo"):
            run.cancel()
            assert run.wait(30) == run.id  # before: wait() never returned
        assert run.status is Status.CANCELLED
        assert any("abandoned" in r.getMessage() and "worker 0" in r.getMessage() for r in caplog.records)
        summary = pylo.summary(run.id)
        assert summary.status is ExecutionStatus.CANCELLED and summary.complete, summary
        finished, unfinished = pylo.get_state(run.id)
        assert STUCK in unfinished and STUCK not in finished
        resumed = pylo.start_from_past_execution(run.id, tasks.noop, progress=False)
        assert pylo.get_state(resumed) == (list(range(20)), [])
    finally:
        release.set()


def test_a_run_that_stops_within_the_grace_is_not_abandoned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    gate, started = threading.Event(), threading.Event()

    def gated(x: int) -> None:
        started.set()
        assert gate.wait(60)

    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1, block_size=5, cancel_grace=30.0)
    run = pylo.submit(range(10), gated)
    assert started.wait(60)
    with caplog.at_level(logging.WARNING, logger="pylo"):
        run.cancel()
        gate.set()
        assert run.wait(30) == run.id and run.status is Status.CANCELLED
    assert not any("abandoned" in r.getMessage() for r in caplog.records)
    [outcome] = pylo.store.read_workers(run.id).values()
    assert outcome["finished"] >= 1  # the worker's own outcome, written after its flush


@pytest.mark.slow
def test_a_cancelled_run_whose_task_hangs_ends_on_dask_too(dask_client: Any, tmp_path: Path) -> None:
    import functools

    import fault_tasks
    from _support import wait_for

    calls, gates = tmp_path / "calls", tmp_path / "gates"
    calls.mkdir(), gates.mkdir()
    pylo = Pylo.dask(dask_client, str(tmp_path / "s"), number_of_workers=2, block_size=5, cancel_grace=0.5)
    run = pylo.submit(range(20), functools.partial(fault_tasks.gated, str(calls), str(gates), [STUCK]))
    try:
        wait_for(lambda: (gates / f"gate-{STUCK}").exists(), "the stuck input")
        run.cancel()
        assert run.wait(60) == run.id and run.status is Status.CANCELLED  # before: never returned
        summary = pylo.summary(run.id)
        assert summary.status is ExecutionStatus.CANCELLED and summary.complete, summary
        assert STUCK in pylo.get_state(run.id)[1]
    finally:
        (gates / f"open-{STUCK}").touch()
