"""Inputs that kill their process (``os._exit``, the nanny's memory limit): the rerun of the block
finds the input, records it failed with a ``WorkerDied`` record, and runs the rest; the run ends
by itself and leaves nothing on the scheduler."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from distributed import Future

import fault_tasks
from _support import wait_for
from pylo import Pylo
from pylo._ui.web._limits import ViewStore
from pylo._ui.web._read import exception_groups
from pylo.errors import WorkerDied

pytestmark = pytest.mark.slow

N = 300


def _calls(tmp_path: Path) -> Path:
    calls = tmp_path / "calls"
    calls.mkdir()
    return calls


def _scheduler_keys(client: Any, eid: str) -> list[str]:
    keys = client.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])
    return [k for k in keys if eid in k]


def _ends_with_one_failed(pylo: Pylo, client: Any, run: Any, killer: int) -> Any:
    """The run ends by itself: every input but ``killer`` finished, ``killer`` failed with a
    ``WorkerDied`` record, and none of its tasks stays on the scheduler. Returns the record."""
    assert run.wait(timeout=100) == run.id
    finished, unfinished = pylo.get_state(run.id)
    assert unfinished == [killer] and finished == [x for x in range(N) if x != killer]
    summary = pylo.summary(run.id)
    assert (summary.finished, summary.failed, summary.pending) == (N - 1, 1, 0)
    progress = run.progress()
    assert (progress.finished, progress.failed) == (N - 1, 1)  # the run's own counts say the same
    [record] = pylo.get_exceptions(run.id)
    assert record.position == killer and record.type == "pylo.errors.WorkerDied", record
    wait_for(lambda: not _scheduler_keys(client, run.id), "the run's tasks to leave the scheduler", timeout=30)
    # Dask's own view of the run (a future) ends with it, even if its watcher's process died too.
    wait_for(lambda: Future.done(run) and Future.status.fget(run) == "finished", "the run's future", timeout=30)
    assert client.gather(run) == run.id
    return record


@pytest.mark.parametrize("allowed_failures", [3, 0])
def test_an_input_that_exits_its_process_is_recorded_failed_and_the_rest_runs(
    make_cluster: Any, tmp_path: Path, allowed_failures: int
) -> None:
    # With Dask's default (3) the task dies four times before KilledWorker; with 0 each death is
    # a KilledWorker, which never ends the run: the driver resubmits and the rerun goes on.
    client = make_cluster(n_workers=2, **{"distributed.scheduler.allowed-failures": allowed_failures})
    calls = _calls(tmp_path)
    pylo = Pylo.dask(client, str(tmp_path / "store"), number_of_workers=2, block_size=50,
                     task_executions_before_flush=10, flush_interval=60.0)
    run = pylo.submit(range(N), functools.partial(fault_tasks.exits_at, str(calls), 123))
    record = _ends_with_one_failed(pylo, client, run, 123)
    assert isinstance(record.exception, WorkerDied)
    assert record.exception.deaths == 2 and record.exception.address.startswith("tcp://")
    assert record.exception.exit_code == 1 and not record.exception.memory_limit
    assert "was running each of the 2 times its process died (exit code 1)" in record.message
    assert list(pylo.exceptions_frame(run.id)["type"]) == ["pylo.errors.WorkerDied"]
    _shown_by_the_cli_and_the_web_view(tmp_path / "store", run.id)


def _shown_by_the_cli_and_the_web_view(store: Path, eid: str) -> None:
    cli = subprocess.run([sys.executable, "-m", "pylo", "exceptions", str(store), eid, "--json"],
                         capture_output=True, text=True, timeout=90, check=True)
    [group] = json.loads(cli.stdout)["groups"]
    assert group["type"] == "pylo.errors.WorkerDied", group
    [shown] = exception_groups(ViewStore(str(store)), eid)
    assert shown["type"] == "pylo.errors.WorkerDied", shown


def test_an_input_past_the_memory_limit_is_recorded_failed_saying_so(make_cluster: Any, tmp_path: Path) -> None:
    client = make_cluster(n_workers=2, memory_limit="600MiB")
    calls = _calls(tmp_path)
    pylo = Pylo.dask(client, str(tmp_path / "store"), number_of_workers=2, block_size=50,
                     task_executions_before_flush=10, flush_interval=60.0)
    run = pylo.submit(range(N), functools.partial(fault_tasks.grows_at, str(calls), 77))
    record = _ends_with_one_failed(pylo, client, run, 77)
    assert "at the worker's memory limit" in record.message, record.message
    assert record.exception.memory_limit and record.exception.memory > 300 << 20
    assert record.exception.exit_code is not None  # what the nanny logged (SIGTERM, or the worker's own exit)


def test_worker_died_pickles() -> None:
    import pickle

    died = WorkerDied("input 3 ...", address="tcp://h:1", exit_code=-15, memory=5, memory_limit=True, deaths=2)
    back = pickle.loads(pickle.dumps(died))
    assert (str(back), back.address, back.exit_code, back.memory, back.memory_limit, back.deaths) == (
        "input 3 ...", "tcp://h:1", -15, 5, True, 2)
