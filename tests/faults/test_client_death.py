"""The client process and its cluster SIGKILLed mid-run (a resume from another cluster): its Dask workers had
flushed segments to the moto S3 bucket; a fresh cluster in another process resumes from there."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

import tasks
from _support import Ledger, kill_group, python, read_when_written, reruns, wait_for, wait_flushed
from pylo import Pylo

pytestmark = pytest.mark.slow

FLUSH = 4
CHAINS = 2


def test_client_killed_then_resumed_by_another_process_on_another_cluster(
    moto_server: Any, tmp_path: Path, ledger: Ledger
) -> None:
    calls, gates = tmp_path / "calls", tmp_path / "gates"
    calls.mkdir(), gates.mkdir()
    spec: dict[str, Any] = {
        "url": f"s3://{moto_server.new_bucket()}/store",
        "options": moto_server.options(),
        "calls": str(calls),
        "gates": str(gates),
        "gate_at": [23, 33],  # blocks 2 and 3: one on each worker chain
        "n": 60,
        "pylo": {"number_of_workers": CHAINS, "block_size": 10, "task_executions_before_flush": FLUSH,
                 "flush_interval": 60.0, "lease_interval": 0.5},
        "id_file": str(tmp_path / "first-id"),
    }
    first = python("_client.py", "start", json.dumps(spec))
    try:
        for x in spec["gate_at"]:
            wait_for(lambda x=x: (gates / f"gate-{x}").exists() or first.poll() is not None, f"gate {x}")
        assert first.poll() is None, "the first client ended before it was killed"
        eid = read_when_written(tmp_path / "first-id")
        reader = Pylo.local_multithread(spec["url"], storage_options=spec["options"])
        for x in spec["gate_at"]:
            wait_flushed(reader.store, eid, x, FLUSH, 10)
        os.kill(first.pid, signal.SIGKILL)  # the client: its scheduler and driver die with it
        assert first.wait(30) == -signal.SIGKILL
    finally:
        kill_group(first)  # its LocalCluster's worker processes: gone with their machine

    summary = reader.summary(eid)
    assert 0 < summary.finished < 60 and summary.failed == 0  # killed part way
    assert reader.store.claim_holder(eid) is not None  # the dead client's claim is still there
    # Its workers died with it: their leases, and the dead client's, stop being renewed and expire.
    wait_for(lambda: not reader.store.is_running(eid), "the dead run's leases to expire", timeout=60)

    spec.update(execution=eid, id_file=str(tmp_path / "second-id"))
    second = python("_client.py", "resume", json.dumps(spec))
    try:
        assert second.wait(120) == 0
    finally:
        kill_group(second)
    resumed = (tmp_path / "second-id").read_text()
    assert reader.get_state(resumed) == (list(range(60)), [])
    assert reader.summary(resumed).parent == eid
    assert reader.store.claim_holder(eid) is None  # the stale claim was taken over, then released

    called = tasks.count_calls(str(calls))
    assert set(called) == {str(x) for x in range(60)}
    twice = reruns(calls)
    bound = CHAINS * FLUSH  # per chain: the unflushed attempts plus the one in flight
    assert len(twice) <= bound and all(n == 2 for n in twice.values()), twice
    ledger.record("client killed, resumed elsewhere", lost=60 - len(reader.get_state(resumed)[0]),
                  rerun=len(twice), bound=bound)
