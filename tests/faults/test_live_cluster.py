"""A client SIGKILLed while its cluster — real ``dask scheduler`` / ``dask worker`` processes —
lives on: the run goes on without it; a second client is told it still runs, attaches to it, or
forces a resume that first stops it; every input is counted once whatever ran twice."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

import tasks
from _support import kill_group, python, read_when_written, wait_for, wait_flushed
from pylo import ExecutionClaimed, Pylo

pytestmark = pytest.mark.slow

N, BLOCK, FLUSH = 24, 6, 2
GATES = [3, 9]  # blocks 0 and 1: one on each Pylo worker


def _killed_client(tmp_path: Path, scheduler: str, lease_interval: float = 0.5) -> tuple[dict[str, Any], str, Pylo]:
    """Start a client on ``scheduler``, wait for both gates, SIGKILL it; the gates stay shut."""
    calls, gates = tmp_path / "calls", tmp_path / "gates"
    calls.mkdir(), gates.mkdir()
    spec: dict[str, Any] = {
        "url": str(tmp_path / "store"), "options": {}, "calls": str(calls), "gates": str(gates),
        "gate_at": GATES, "n": N, "scheduler": scheduler, "id_file": str(tmp_path / "id"),
        "pylo": {"number_of_workers": 2, "block_size": BLOCK, "task_executions_before_flush": FLUSH,
                 "flush_interval": 60.0, "lease_interval": lease_interval},
    }
    client = python("_client.py", "start", json.dumps(spec))
    try:
        for x in GATES:
            wait_for(lambda x=x: (gates / f"gate-{x}").exists(), f"gate {x}")
        eid = read_when_written(tmp_path / "id")
        os.kill(client.pid, signal.SIGKILL)
        assert client.wait(30) == -signal.SIGKILL
    finally:
        kill_group(client)
    pylo = Pylo.dask(scheduler, spec["url"])
    for x in GATES:
        wait_flushed(pylo.store, eid, x, FLUSH, BLOCK)
    return spec, eid, pylo


def _open_gates(spec: dict[str, Any]) -> None:
    for x in GATES:
        (Path(spec["gates"]) / f"open-{x}").touch()


def test_a_killed_client_leaves_its_run_going_and_another_one_attaches(external_cluster: str, tmp_path: Path) -> None:
    spec, eid, pylo = _killed_client(tmp_path, external_cluster)
    try:
        assert pylo.store.is_running(eid)  # its Dask workers renew their leases
        with pytest.raises(ExecutionClaimed, match=rf"still running: attach to it with pylo.attach\('{eid}'\)"):
            pylo.resume(eid, tasks.noop)
        run = pylo.resume_or_attach(eid, tasks.noop)  # a retried pipeline step: attaches
        assert run.id == eid
        _open_gates(spec)
        assert run.wait(60) == eid and run.status.value == "done"
        assert run.progress().finished == N and run.progress().pending == 0
        assert pylo.get_state(eid) == (list(range(N)), [])
        assert pylo.summary(eid).finished == N and pylo.summary(eid).complete
        assert tasks.count_calls(spec["calls"]) == {str(x): 1 for x in range(N)}  # nothing ran twice
    finally:
        pylo.close()


def test_a_resume_that_comes_after_the_clients_lease_expired_is_refused_while_its_workers_run(
    external_cluster: str, tmp_path: Path
) -> None:
    """The resume comes LATE seconds after the client's death: its client lease (renewed every
    2 s, expired after 8) and its claim's grace are over, while its workers, held at their gates,
    renew theirs (every 10 s, expired after 40: far from expiring even on a loaded machine). The
    later client reads the store on a clock LATE seconds ahead, which is the store as it will be
    then — without waiting for it."""
    from clocks import LaterClock
    from pylo.backends._dask import DaskBackend
    from pylo.store import Store

    spec, eid, pylo = _killed_client(tmp_path, external_cluster, lease_interval=10.0)
    pylo.close()
    later = Pylo(Store(spec["url"], clock=LaterClock(LATE)), DaskBackend(external_cluster), pylo.config)
    try:
        assert later.store.is_running(eid)  # only the workers' leases say so: the client's expired
        with pytest.raises(ExecutionClaimed, match=rf"still running: attach to it with pylo.attach\('{eid}'\)"):
            later.resume(eid, tasks.noop)
        run = later.resume_or_attach(eid, tasks.noop)
        assert run.id == eid
        _open_gates(spec)
        assert run.wait(60) == eid and run.status.value == "done"
        assert later.get_state(eid) == (list(range(N)), [])
        assert tasks.count_calls(spec["calls"]) == {str(x): 1 for x in range(N)}  # nothing ran twice
    finally:
        later.close()


LATE = 12.0


def test_a_forced_resume_beside_a_live_run_stops_it_first_and_counts_each_input_once(
    external_cluster: str, tmp_path: Path
) -> None:
    spec, eid, pylo = _killed_client(tmp_path, external_cluster)
    try:
        _open_gates(spec)  # the old workers run on; the forced resume asks them to stop, and waits
        resumed = pylo.start_from_past_execution(eid, tasks.noop, progress=False, force=True)
        assert not pylo.store.is_running(eid)
        finished, unfinished = pylo.get_state(resumed)
        assert (finished, unfinished) == (list(range(N)), [])
        summary = pylo.summary(resumed)
        assert summary.total == N and summary.finished == N and summary.pending == 0
        again = pylo.start_from_past_execution(eid, tasks.noop, progress=False, force=True)
        manifest = pylo.store.read_manifest(again)
        assert (manifest.parent, manifest.n_inputs) == (resumed, 0)  # continued from the first: nothing reruns
        assert pylo.summary(again).finished == N and pylo.summary(again).total == N
    finally:
        pylo.close()


def test_the_cli_attaches_to_a_run_whose_client_was_killed(external_cluster: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    spec, eid, pylo = _killed_client(tmp_path, external_cluster)
    try:
        cli = subprocess.Popen([sys.executable, "-m", "pylo", "attach", spec["url"], eid],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _open_gates(spec)
        out, _ = cli.communicate(timeout=90)
        assert cli.returncode == 0 and f"{N} finished" in out.decode()
    finally:
        pylo.close()
