"""A Dask cluster that shrinks or grows under a run: a worker retired, the cluster scaled down,
an adaptive cluster starting at 0 workers. Whatever Dask moves and reruns, the counts the client
reports at the end are the store's, and each input is counted once."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import pytest

import fault_tasks
import tasks
from _support import alive, read_pid, wait_for, wait_flushed
from pylo import Pylo

pytestmark = pytest.mark.slow

N, BLOCK, FLUSH = 24, 6, 2
GATES = (3, 9)  # blocks 0 and 1: one on each Pylo worker


def _dirs(tmp_path: Path) -> tuple[str, Path, Path]:
    calls, gates = tmp_path / "calls", tmp_path / "gates"
    calls.mkdir(), gates.mkdir()
    return str(tmp_path / "store"), calls, gates


def _gated_run(pylo: Pylo, calls: Path, gates: Path) -> Any:
    """Submit ``range(N)`` gated at GATES; return the run once both Pylo workers wait at their
    gates, with what they ran before flushed."""
    # a generator: blocks of BLOCK (a known count would shrink them toward the end)
    run = pylo.submit(iter(range(N)), functools.partial(fault_tasks.gated, str(calls), str(gates), GATES))
    for x in GATES:
        gate = gates / f"gate-{x}"
        wait_for(lambda g=gate: g.exists() and read_pid(g), f"input {x} to reach its gate", timeout=120)
        wait_flushed(pylo.store, run.id, x, FLUSH, BLOCK)
    return run


def _open_gates(gates: Path) -> None:
    for x in GATES:
        (gates / f"open-{x}").touch()


def _assert_counted_once(pylo: Pylo, run: Any, calls: Path) -> dict[str, int]:
    """The run's final counts, from the client and from the store, are every input once; returns
    the inputs that ran more than once."""
    assert pylo.get_state(run.id) == (list(range(N)), [])
    summary = pylo.summary(run.id)
    progress = run.progress()
    assert (summary.finished, summary.failed, summary.pending) == (N, 0, 0)
    assert (progress.finished, progress.failed, progress.pending) == (N, 0, 0)
    called = tasks.count_calls(str(calls))
    assert called.keys() == {str(x) for x in range(N)}
    return {x: n for x, n in called.items() if n > 1}


@pytest.mark.parametrize("how", ["retire_workers", "scale_down"])
def test_a_cluster_shrunk_mid_run_reports_the_stores_counts(
    how: str, make_cluster: Any, tmp_path: Path
) -> None:
    client = make_cluster(n_workers=2)
    store, calls, gates = _dirs(tmp_path)
    pylo = Pylo.dask(client, store, number_of_workers=2, block_size=BLOCK,
                     task_executions_before_flush=FLUSH, flush_interval=60.0)
    run = _gated_run(pylo, calls, gates)
    if how == "retire_workers":
        pid = read_pid(gates / f"gate-{GATES[0]}")
        [address] = [a for a, p in client.run(os.getpid).items() if p == pid]
        client.retire_workers([address], close_workers=True)
    else:
        client.cluster.scale(1)
    wait_for(lambda: len(client.scheduler_info()["workers"]) == 1, "one Dask worker left")
    _open_gates(gates)  # Dask reruns the moved Pylo worker on the survivor: it continues from the store
    assert run.wait(timeout=90) == run.id
    twice = _assert_counted_once(pylo, run, calls)
    assert len(twice) <= N // 2, twice  # at most the moved Pylo worker's chain ran twice


def test_a_retired_workers_pylo_worker_stops_between_inputs(make_cluster: Any, tmp_path: Path) -> None:
    # A retiring Dask worker waits for its running tasks before its process ends: a Pylo worker
    # that ran on there would run its whole chain outside the cluster while Dask reruns it elsewhere.
    client = make_cluster(n_workers=2)
    store, calls, gates = _dirs(tmp_path)
    pylo = Pylo.dask(client, store, number_of_workers=2, block_size=BLOCK,
                     task_executions_before_flush=FLUSH, flush_interval=60.0)
    run = _gated_run(pylo, calls, gates)
    retired = read_pid(gates / f"gate-{GATES[0]}")
    [address] = [a for a, p in client.run(os.getpid).items() if p == retired]
    client.retire_workers([address], close_workers=True)
    (gates / f"open-{GATES[0]}").touch()  # the other Pylo worker stays at its gate meanwhile
    wait_for(lambda: not alive(retired), "the retired worker's process to end")
    (gates / f"open-{GATES[1]}").touch()
    assert run.wait(timeout=90) == run.id
    _assert_counted_once(pylo, run, calls)
    ran_there = (calls / f"calls-{retired}.log").read_text().split()
    # It stopped at its next look at its Dask worker (within one flush window), not at the end of its chain.
    assert ran_there[:GATES[0] + 1] == [str(x) for x in range(GATES[0] + 1)], ran_there
    assert len(ran_there) <= GATES[0] + 1 + FLUSH, ran_there


def test_an_adaptive_cluster_from_zero_workers_runs_every_pylo_worker_and_loses_nothing(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    store, calls, gates = _dirs(tmp_path)
    with LocalCluster(n_workers=0, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        cluster.adapt(minimum=0, maximum=2, interval="100ms")
        with Client(cluster) as client:
            pylo = Pylo.dask(client, store, block_size=BLOCK, task_executions_before_flush=FLUSH,
                             flush_interval=60.0)
            try:
                run = _gated_run(pylo, calls, gates)  # both Pylo workers run at once: two Dask workers
                assert pylo.store.read_manifest(run.id).workers == 2
            finally:
                _open_gates(gates)
            assert run.wait(timeout=90) == run.id
            twice = _assert_counted_once(pylo, run, calls)
            assert len(twice) <= 2 * FLUSH, twice
            assert sorted(pylo.store.read_workers(run.id)) == [0, 1]
