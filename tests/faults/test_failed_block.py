"""On Dask, a block that fails (not its task: the block itself) fails the run, but only once the
other blocks have stopped: until then the execution stays claimed, so nobody resumes it while
its old blocks still write to it."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import pytest

import tasks
from pylo import CorruptSnapshot, Pylo, Status
from pylo._core import plan
from _support import wait_for


def test_a_failed_block_settles_the_run_only_after_the_others_stopped(dask_inproc_client: Any, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan, "SHARE_BLOCKS", 1)  # each block's inputs an object of its own, to remove
    gates = tmp_path / "gates"
    gates.mkdir()
    pylo = Pylo.dask(dask_inproc_client, str(tmp_path / "s"), number_of_workers=2, block_size=1,
                     task_executions_before_flush=1)
    # Worker 0 takes block 0 and waits in it; worker 1 takes block 1, then 2 and 3 (it is free),
    # in the order its pick among the free ones gives.
    inputs = ["until:go", "until:deleted", 2, 3]
    run = pylo.submit(inputs, functools.partial(tasks.wait_for_file, str(gates)))
    os.remove(pylo.store.layout.inputs(run.id, 3))  # block 3 will fail to read its inputs
    (gates / "deleted").touch()
    wait_for(lambda: pylo.store.cancel_requested(run.id), "the failed block to stop the others")
    assert not run.done()  # block 0 still runs: the run is not over
    assert pylo.store.claim_holder(run.id) is not None
    (gates / "go").touch()
    with pytest.raises(CorruptSnapshot, match="000003"):
        run.wait(60)
    assert run.status is Status.FAILED
    assert pylo.store.claim_holder(run.id) is None
    summary = pylo.summary(run.id)
    assert summary.finished in (2, 3) and summary.finished + summary.untaken == 3  # 0, 1, and 2 unless 3 came first
