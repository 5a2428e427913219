"""A run follows its cluster: Dask workers that join a running execution take blocks, and the
blocks a leaving worker had not finished are handed back and continued by the others. Every
input is counted once whatever moved; the waits are on files the tasks write, never on time."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import pytest

import fault_tasks
import tasks
from _support import wait_for
from pylo import Pylo

pytestmark = pytest.mark.slow

N = 40


def _gate_pids(gates: Path) -> dict[int, int]:
    """Input -> pid of the process that reached its gate."""
    out = {}
    for gate in gates.glob("gate-*"):
        text = gate.read_text().strip()
        if text:
            out[int(gate.name.split("-")[1])] = int(text)
    return out


def _open_all(gates: Path) -> None:
    for x in range(N):
        (gates / f"open-{x}").touch()


def test_a_dask_worker_that_joins_a_running_execution_takes_blocks(make_cluster: Any, tmp_path: Path) -> None:
    client = make_cluster(n_workers=1)
    calls, gates = tmp_path / "calls", tmp_path / "gates"
    calls.mkdir(), gates.mkdir()
    # No number of workers: the run follows the cluster. Every input waits at its gate, so the
    # one worker there is holds its first block until the test lets it go.
    pylo = Pylo.dask(client, str(tmp_path / "s"), task_executions_before_flush=1)
    run = pylo.submit(range(N), functools.partial(fault_tasks.gated, str(calls), str(gates), range(N)))
    try:
        wait_for(lambda: len(_gate_pids(gates)) == 1, "the first worker at its first gate")
        [first] = _gate_pids(gates).values()
        client.cluster.scale(2)
        wait_for(lambda: len(set(_gate_pids(gates).values())) == 2, "an input to run on the Dask worker that joined")
    finally:
        _open_all(gates)
    assert run.wait(timeout=90) == run.id
    summary = pylo.summary(run.id)
    assert (summary.finished, summary.failed, summary.pending) == (N, 0, 0)
    assert run.progress().finished == N
    assert len([w for w in summary.workers if w.blocks]) == 2  # the joining worker's Pylo worker took some
    assert set(tasks.count_calls(str(calls)).values()) == {1}  # nothing ran twice


def test_the_blocks_a_leaving_worker_had_not_finished_are_continued_by_the_others(
    make_cluster: Any, tmp_path: Path
) -> None:
    client = make_cluster(n_workers=2)
    calls, gates = tmp_path / "calls", tmp_path / "gates"
    calls.mkdir(), gates.mkdir()
    pylo = Pylo.dask(client, str(tmp_path / "s"), number_of_workers=2, block_size=10,
                     task_executions_before_flush=1, flush_interval=60.0)
    # a generator: blocks of 10, so each worker holds one with most of it left to do
    run = pylo.submit(iter(range(N)), functools.partial(fault_tasks.gated, str(calls), str(gates), [2, 12]))
    wait_for(lambda: len(_gate_pids(gates)) == 2, "both workers at their gates")
    pids = _gate_pids(gates)
    [address] = [a for a, p in client.run(os.getpid).items() if p == pids[2]]
    client.retire_workers([address], close_workers=True)
    (gates / "open-2").touch()  # its worker stops at its next look at its Dask worker
    wait_for(lambda: pylo.store.files.find(pylo.store.layout.taken_dir(run.id)) and any(
        p.endswith(".released") for p in pylo.store.files.find(pylo.store.layout.taken_dir(run.id))),
        "the leaving worker to hand its block back")
    (gates / "open-12").touch()
    assert run.wait(timeout=90) == run.id
    summary = pylo.summary(run.id)
    assert (summary.finished, summary.failed, summary.pending) == (N, 0, 0)
    left = [w for w in summary.workers if w.left]
    assert len(left) == 1 and not left[0].gave_up and not left[0].cancelled and left[0].failed == 0
    assert str(summary.status) == "finished"
    twice = {x for x, n in tasks.count_calls(str(calls)).items() if n > 1}
    assert twice <= {"3"}, twice  # at most the input it was at when it stopped


def test_a_dask_worker_that_joins_after_the_client_died_takes_blocks(external_cluster: Any, tmp_path: Path) -> None:
    # The client that started the run is SIGKILLed; a `dask worker` then joins the cluster. The
    # steward in the run's first worker starts a Pylo worker for it: no client is needed for the
    # run to follow its cluster.
    import json
    import signal
    import subprocess
    import sys

    from _support import TESTS, kill_group, python, read_when_written

    calls, gates = tmp_path / "calls", tmp_path / "gates"
    calls.mkdir(), gates.mkdir()
    spec: dict[str, Any] = {
        "url": str(tmp_path / "store"), "options": {}, "calls": str(calls), "gates": str(gates),
        "gate_at": list(range(N)), "n": N, "scheduler": str(external_cluster), "id_file": str(tmp_path / "id"),
        "pylo": {"task_executions_before_flush": 1},  # no number of workers: it follows the cluster
    }
    client = python("_client.py", "start", json.dumps(spec))
    joined = None
    try:
        wait_for(lambda: len(set(_gate_pids(gates).values())) == 2, "both workers of the cluster at a gate")
        eid = read_when_written(tmp_path / "id")
        os.kill(client.pid, signal.SIGKILL)
        assert client.wait(30) == -signal.SIGKILL
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(TESTS), str(TESTS / "faults"), *filter(None, [os.environ.get("PYTHONPATH")])]))
        dask_cli = os.path.join(os.path.dirname(sys.executable), "dask")
        joined = subprocess.Popen([dask_cli, "worker", "--scheduler-file", str(tmp_path / "scheduler.json"),
                                   "--nworkers", "1", "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                                  env=env, start_new_session=True, stderr=subprocess.DEVNULL)
        wait_for(lambda: len(set(_gate_pids(gates).values())) == 3, "an input to run on the worker that joined",
                 timeout=90)
    finally:
        _open_all(gates)
        kill_group(client)
    try:
        pylo = Pylo.dask(str(external_cluster), spec["url"])
        assert pylo.attach(eid).wait(timeout=90) == eid
        summary = pylo.summary(eid)
        assert (summary.finished, summary.failed, summary.pending) == (N, 0, 0)
        assert len([w for w in summary.workers if w.blocks]) == 3
        assert set(tasks.count_calls(str(calls)).values()) == {1}
    finally:
        if joined is not None:
            kill_group(joined)
