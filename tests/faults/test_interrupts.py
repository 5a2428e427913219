"""``KeyboardInterrupt`` and ``SystemExit``, inside a task or in the caller: never swallowed, the
progress up to that point is flushed, and the execution can be resumed."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import fault_tasks
import tasks
from _support import Ledger, kill_group, python, read_when_written, reruns, start_gated_client, wait_for
from pylo import Pylo

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_inside_a_task_propagates_after_a_flush(kind: type, tmp_path: Path, ledger: Ledger) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    # No flush would happen before the end (1000 attempts, 60 s): only the interrupt flushes.
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=2, block_size=10,
                                  task_executions_before_flush=1000, flush_interval=60.0)
    with pytest.raises(kind):
        pylo.start_from_scratch(range(60), functools.partial(fault_tasks.interrupts, str(calls), 25, kind.__name__),
                                progress=False)
    eid = pylo.executions()[-1]
    finished, unfinished = pylo.get_state(eid)
    ran = {int(x) for x in tasks.count_calls(str(calls))}
    assert set(finished) == ran - {25}  # every attempt that succeeded was flushed
    assert 25 in unfinished and pylo.get_exceptions(eid) == []  # an interrupt is not a task failure
    resumed = pylo.start_from_past_execution(eid, functools.partial(tasks.log_call, str(calls)), progress=False)
    assert pylo.get_state(resumed) == (list(range(60)), [])
    assert reruns(calls) == {"25": 2}
    ledger.record(f"{kind.__name__} in a task", lost=0, rerun=1, bound=1)


def test_ctrl_c_in_the_caller_cancels_flushes_and_propagates(tmp_path: Path, ledger: Ledger) -> None:
    # both workers held at a gate: a free worker would otherwise finish every other block first
    client = start_gated_client(tmp_path, 100, also=(55,))
    eid, calls, proc = client.eid, client.calls, client.proc
    try:
        proc.send_signal(signal.SIGINT)  # Ctrl-C while the caller waits in start_from_scratch
        wait_for(lambda: (tmp_path / "s" / eid / "cancel.json").exists(), "the cancel request")
        client.open_gate()  # the input in flight may now end; its worker then stops
        assert proc.wait(60) == -signal.SIGINT  # died of the KeyboardInterrupt, nothing else
    finally:
        kill_group(proc)
    assert (tmp_path / "id.interrupted").exists()
    pylo = Pylo.local_multithread(client.store, number_of_workers=2)
    finished, unfinished = pylo.get_state(eid)
    assert set(finished) == {int(x) for x in tasks.count_calls(str(calls))}  # all flushed
    assert unfinished and pylo.summary(eid).workers[0].ended is not None
    resumed = pylo.start_from_past_execution(eid, functools.partial(tasks.log_call, str(calls)), progress=False)
    assert pylo.get_state(resumed) == (list(range(100)), [])
    assert reruns(calls) == {}
    ledger.record("Ctrl-C in the caller", lost=0, rerun=0, bound=0)


def test_an_interrupt_inside_a_task_on_dask_is_a_worker_death(make_cluster: Any, tmp_path: Path) -> None:
    # Dask lets KeyboardInterrupt and SystemExit kill the worker process; the block flushed first,
    # so its rerun skips what finished; the input that did it at two deaths is recorded failed
    # (WorkerDied) and the rest of the block runs, though each death is a KilledWorker here.
    client = make_cluster(n_workers=1, **{"distributed.scheduler.allowed-failures": 0})
    calls = tmp_path / "calls"
    calls.mkdir()
    pylo = Pylo.dask(client, str(tmp_path / "s"), number_of_workers=1, block_size=10,
                     task_executions_before_flush=1000, flush_interval=60.0)
    eid = pylo.start_from_scratch(iter(range(30)),  # a generator: blocks of 10
                                  functools.partial(fault_tasks.interrupts, str(calls), 15, "SystemExit"),
                                  progress=False)
    assert pylo.get_state(eid) == ([x for x in range(30) if x != 15], [15])
    assert pylo.store.read_workers(eid)[0]["lost_blocks"] == []
    assert [(r.position, r.type) for r in pylo.get_exceptions(eid)] == [(15, "pylo.errors.WorkerDied")]
    resumed = pylo.start_from_past_execution(eid, functools.partial(tasks.log_call, str(calls)), progress=False)
    assert pylo.get_state(resumed) == (list(range(30)), [])


def test_ctrl_c_in_the_caller_on_dask_cancels_flushes_and_propagates(tmp_path: Path, ledger: Ledger) -> None:
    calls, gates = tmp_path / "calls", tmp_path / "gates"
    calls.mkdir(), gates.mkdir()
    # Both workers wait at a gate when the Ctrl-C comes: a free worker would otherwise take and
    # finish every other block first, and nothing would be left for the cancel to stop.
    spec = {"url": str(tmp_path / "s"), "options": {}, "calls": str(calls), "gates": str(gates),
            "gate_at": [13, 43], "n": 60, "id_file": str(tmp_path / "id"),
            "pylo": {"number_of_workers": 2, "block_size": 10, "task_executions_before_flush": 1000}}
    proc = python("_client.py", "start", json.dumps(spec))
    try:
        for x in (13, 43):
            wait_for(lambda x=x: (gates / f"gate-{x}").exists(), f"input {x} to reach its gate")
        eid = read_when_written(tmp_path / "id")
        proc.send_signal(signal.SIGINT)  # Ctrl-C while the caller waits on the run
        wait_for(lambda: (tmp_path / "s" / eid / "cancel.json").exists(), "the cancel request")
        for x in (13, 43):
            (gates / f"open-{x}").touch()
        assert proc.wait(60) == -signal.SIGINT  # died of the KeyboardInterrupt, nothing else
    finally:
        kill_group(proc)
    assert (tmp_path / "id.interrupted").read_text() == "cancelled"  # the blocks stopped and flushed
    pylo = Pylo.local_multithread(spec["url"], number_of_workers=2)
    finished, unfinished = pylo.get_state(eid)
    assert set(finished) == {int(x) for x in tasks.count_calls(str(calls))} and unfinished
    resumed = pylo.start_from_past_execution(eid, functools.partial(tasks.log_call, str(calls)), progress=False)
    assert pylo.get_state(resumed) == (list(range(60)), [])
    assert reruns(calls) == {}
    ledger.record("Ctrl-C in the caller on Dask", lost=0, rerun=0, bound=0)


def test_ctrl_c_to_the_whole_process_group_ends_a_dask_run_on_the_default_cluster(tmp_path: Path) -> None:
    # A terminal's Ctrl-C reaches every process of the group: the client and the worker processes
    # of the LocalCluster that pylo started. The run must still end within seconds, resumable.
    calls, gates = tmp_path / "calls", tmp_path / "gates"
    calls.mkdir(), gates.mkdir()
    spec = {"url": str(tmp_path / "s"), "options": {}, "calls": str(calls), "gates": str(gates), "gate_at": [13],
            "n": 40, "id_file": str(tmp_path / "id"), "default_cluster": True,
            "pylo": {"number_of_workers": 2, "block_size": 10, "task_executions_before_flush": 1,
                     "lease_interval": 0.5}}
    proc = python("_client.py", "start", json.dumps(spec))
    try:
        wait_for(lambda: (gates / "gate-13").exists(), "input 13 to reach its gate")
        eid = read_when_written(tmp_path / "id")
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(60) == -signal.SIGINT
    finally:
        kill_group(proc)
    assert (tmp_path / "id.interrupted").read_text() == "cancelled"
    pylo = Pylo.local_multithread(spec["url"], number_of_workers=2)
    wait_for(lambda: not pylo.store.is_running(eid), "the leases of the dead workers to expire")
    resumed = pylo.start_from_past_execution(eid, functools.partial(tasks.log_call, str(calls)), progress=False)
    assert pylo.get_state(resumed) == (list(range(40)), [])
    assert len(reruns(calls)) <= 2  # at most the input in flight on each worker ran twice


def test_ctrl_c_to_the_process_group_of_pylo_run_ends_it_resumable(tmp_path: Path) -> None:
    # `pylo run` on the local cluster it starts itself, interrupted as a terminal does it.
    (tmp_path / "slowtask.py").write_text(
        "import os, time\n"
        "def slow(x):\n"
        f"    open(os.path.join({str(tmp_path)!r}, 'started'), 'a').close()\n"
        "    time.sleep(0.02)\n"
    )
    (tmp_path / "inputs.txt").write_text("\n".join(str(i) for i in range(2_000)))
    store = str(tmp_path / "s")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pylo", "run", "slowtask:slow", "--inputs", "inputs.txt", "--store", store,
         "--workers", "2", "--block-size", "100", "--flush-every", "5", "--no-progress"],
        cwd=tmp_path, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: (tmp_path / "started").exists(), "the first input to run")
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err.decode()[-2000:]
        assert b"interrupted: execution" in err
    finally:
        kill_group(proc)
    pylo = Pylo.local_multithread(store, number_of_workers=2)
    [eid] = pylo.executions()
    wait_for(lambda: not pylo.store.is_running(eid), "the leases of the dead workers to expire")
    assert pylo.summary(eid).unfinished > 0
    resumed = pylo.start_from_past_execution(eid, tasks.noop, progress=False)
    assert pylo.summary(resumed).finished == 2_000
