"""Dask worker processes killed with SIGKILL mid-run: the nanny restarts them, Dask reruns their
blocks, and the reruns skip what the blocks' segments say concluded."""

from __future__ import annotations

import functools
import os
import signal
from pathlib import Path
from collections.abc import Callable
from typing import Any

import pytest

import fault_tasks
import tasks
from _support import Ledger, alive, read_pid, reruns, wait_for, wait_flushed
from pylo import Pylo

pytestmark = pytest.mark.slow

FLUSH = 4  # task_executions_before_flush: a kill loses at most this many attempts


def _dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    paths = tmp_path / "store", tmp_path / "calls", tmp_path / "gates"
    for p in paths[1:]:
        p.mkdir()
    return paths


def test_a_worker_killed_twice_mid_run(make_cluster: Any, tmp_path: Path, ledger: Ledger) -> None:
    client = make_cluster(n_workers=2)
    store, calls, gates = _dirs(tmp_path)
    pylo = Pylo.dask(client, str(store), number_of_workers=2, block_size=12,
                     task_executions_before_flush=FLUSH, flush_interval=60.0)
    kill_at = (17, 41)  # in blocks 1 and 3, i.e. one on each worker chain
    task = functools.partial(fault_tasks.gated, str(calls), str(gates), kill_at)
    run = pylo.submit(range(60), task)
    for x in kill_at:
        _kill_at_gate(client, gates, x, lambda x=x: wait_flushed(pylo.store, run.id, x, FLUSH, 12))
    summary = _ended_whole(pylo, run, 60)
    twice = reruns(calls)
    assert set(tasks_called(calls)) == {str(x) for x in range(60)}
    bound = len(kill_at) * FLUSH
    assert len(twice) <= bound and all(n == 2 for n in twice.values()), twice
    assert {str(x) for x in kill_at} <= twice.keys()  # the killed attempts ran again
    ledger.record("worker killed twice", lost=60 - summary.finished, rerun=len(twice), bound=bound)


def test_an_input_that_kills_its_worker_three_times_is_recorded_failed_then_resumed(
    make_cluster: Any, tmp_path: Path, ledger: Ledger
) -> None:
    client = make_cluster(n_workers=1, **{"distributed.scheduler.allowed-failures": 2})
    store, calls, _ = _dirs(tmp_path)
    pylo = Pylo.dask(client, str(store), number_of_workers=1, block_size=10,
                     task_executions_before_flush=2, flush_interval=60.0)
    # a generator: blocks of 10 (a known count would shrink them toward the end)
    run = pylo.submit(iter(range(40)), functools.partial(fault_tasks.kills_its_worker, str(calls), 15))
    assert run.wait(timeout=90) == run.id
    # Block 1 (inputs 10-19) died three times at input 15 (then Dask gave up: KilledWorker). The
    # reruns named the input running before each death; at the second death it was named at,
    # input 15 was recorded failed and the rest of the block ran; so did blocks 2 and 3.
    assert pylo.get_state(run.id) == ([x for x in range(40) if x != 15], [15])
    called = tasks_called(calls)
    assert called["15"] == 3  # once unnamed, then twice named: recorded failed
    assert all(called[str(x)] == 1 for x in range(16, 40))
    assert pylo.store.read_workers(run.id)[0]["lost_blocks"] == []
    [record] = pylo.get_exceptions(run.id)
    assert record.position == 15 and record.type == "pylo.errors.WorkerDied"
    assert record.exception.exit_code == -9 and "killed by signal 9" in record.message  # SIGKILL
    summary = pylo.summary(run.id)
    assert (summary.failed, summary.pending) == (1, 0)
    resumed = pylo.start_from_past_execution(run.id, functools.partial(tasks.log_call, str(calls)))
    assert pylo.get_state(resumed) == (list(range(40)), [])
    assert tasks_called(calls)["15"] == 4 and tasks_called(calls)["16"] == 1
    ledger.record("input recorded failed after KilledWorker", lost=0, rerun=0, bound=0)


BIG = 32 << 20  # bytes of a result: its flush (a write and an fsync) takes far longer than a kill


@pytest.mark.parametrize("allowed_failures", [2, 0])
def test_the_input_that_kills_its_worker_is_blamed_not_the_block_whose_last_flush_was_writing(
    make_cluster: Any, tmp_path: Path, allowed_failures: int
) -> None:
    # Block 0's last flush carries a large result and is written in the background while block 1
    # starts; block 1's first input kills its process at once, every time, before that write
    # can reach the store. The input blamed must be the killer (3), never block 0's, which ended.
    client = make_cluster(n_workers=1, **{"distributed.scheduler.allowed-failures": allowed_failures})
    store, calls, _ = _dirs(tmp_path)
    pylo = Pylo.dask(client, str(store), number_of_workers=1, block_size=3, store_results=True,
                     task_executions_before_flush=2, flush_interval=60.0)
    task = functools.partial(fault_tasks.big_then_kills, str(calls), [2], 3, BIG)
    run = pylo.submit(iter(range(9)), task)  # a generator: blocks of 3
    assert run.wait(timeout=90) == run.id
    assert pylo.store.read_workers(run.id)[0]["lost_blocks"] == []
    assert pylo.get_state(run.id) == ([0, 1, 2, 4, 5, 6, 7, 8], [3])
    assert [r.position for r in pylo.get_exceptions(run.id)] == [3]
    called = tasks_called(calls)
    # Killed once unnamed, then twice named (recorded failed), whether each death is a
    # KilledWorker (allowed-failures 0: the driver resubmits) or Dask reran the task itself.
    assert called["3"] == 3
    assert all(called[str(x)] == 1 for x in range(4, 9))  # the rest ran once
    assert [len(result) for _, result in pylo.get_results(run.id)] == [0, 0, BIG, 0, 0, 0, 0, 0]
    resumed = pylo.start_from_past_execution(run.id, functools.partial(tasks.log_call, str(calls)))
    assert pylo.get_state(resumed) == (list(range(9)), [])
    assert tasks_called(calls)["3"] == 4 and all(tasks_called(calls)[str(x)] == 1 for x in (4, 5))


@pytest.mark.parametrize("how", [{"rerun": True}, {"careful": True}])
def test_a_careful_worker_starts_a_block_once_the_one_before_concluded_in_the_store(
    tmp_path: Path, how: dict[str, bool]
) -> None:
    # What the Dask client relies on after KilledWorker, without Dask: when the first input of
    # block 1 runs, block 0's last flush (a large result, slow to write) is in the store already.
    from pylo import Config
    from pylo._core.block import BlockContext
    from pylo._core.chain import run_worker
    from pylo._core.plan import plan_execution
    from pylo.store import Store

    store = Store(str(tmp_path / "store"))
    config = Config(block_size=3, store_results=True, task_executions_before_flush=2, flush_interval=60.0)
    seen: list[list[int]] = []

    def task(x: int) -> bytes:
        if x == 3:  # the first input of block 1
            seen.append(sorted(store.read_block_state(manifest.id, manifest.blocks[0]).finished))
        return b"x" * BIG if x == 2 else b""

    manifest = plan_execution(store, iter(range(6)), task, config, 1)  # a generator: blocks of 3
    tally = run_worker(BlockContext(store, manifest.id, task, config), 0, manifest.blocks, **how)
    assert seen == [[0, 1, 2]] and tally.finished == 6


def _kill_at_gate(client: Any, gates: Path, x: int, before: Callable[[], None] = lambda: None) -> None:
    """SIGKILL the Dask worker process whose task waits at input ``x``'s gate (after ``before``)."""
    gate = gates / f"gate-{x}"
    pid = wait_for(lambda: gate.exists() and read_pid(gate), f"input {x} to reach its gate")
    before()
    assert pid in client.run(os.getpid).values()  # a Dask worker process, not this one
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not alive(pid), "the killed worker process to be gone")


def _ended_whole(pylo: Pylo, run: Any, n: int) -> Any:
    """The summary of ``run`` once it ended with each of its ``n`` inputs finished."""
    assert run.wait(timeout=90) == run.id
    assert pylo.get_state(run.id) == (list(range(n)), [])
    summary = pylo.summary(run.id)
    assert (summary.finished, summary.failed, summary.pending) == (n, 0, 0)
    return summary


def tasks_called(calls: Path) -> dict[str, int]:
    return tasks.count_calls(str(calls))


def test_a_worker_killed_mid_chain_reruns_only_the_running_block(
    make_cluster: Any, tmp_path: Path, ledger: Ledger
) -> None:
    # Work stealing off: a task moved before it starts would look like a second start below.
    client = make_cluster(n_workers=2, **{"distributed.scheduler.work-stealing": False})
    store, calls, gates = _dirs(tmp_path)
    block, n, kill_at = 6, 24, 15  # one chain of 4 blocks; the kill comes in block 2, after 0 and 1
    pylo = Pylo.dask(client, str(store), number_of_workers=1, block_size=block,
                     task_executions_before_flush=FLUSH, flush_interval=60.0)
    run = pylo.submit(range(n), functools.partial(fault_tasks.gated, str(calls), str(gates), [kill_at]))
    gate = gates / f"gate-{kill_at}"
    pid = wait_for(lambda: gate.exists() and read_pid(gate), f"input {kill_at} to reach its gate")
    wait_flushed(pylo.store, run.id, kill_at, FLUSH, block)
    assert pid in client.run(os.getpid).values()
    os.kill(pid, signal.SIGKILL)  # the gate stays shut: the rerun passes it, the gate opens once
    assert run.wait(timeout=90) == run.id
    assert pylo.get_state(run.id) == (list(range(n)), [])
    summary = pylo.summary(run.id)
    assert (summary.finished, summary.failed, summary.pending) == (n, 0, 0)
    called = tasks_called(calls)
    running = range(12, 18)
    # The finished blocks before the kill, and the block after it, ran each input exactly once;
    # the block that was running reran what it had not flushed, its killed input included.
    assert {x: called[str(x)] for x in range(n) if x not in running} == dict.fromkeys(
        (x for x in range(n) if x not in running), 1)
    twice = reruns(calls)
    assert str(kill_at) in twice and twice.keys() <= {str(x) for x in running} and len(twice) <= FLUSH, twice

    # On the cluster, one Dask task started twice (the one the kill interrupted), whatever the
    # number of blocks: a chain of block tasks, each the next one's dependency, would have Dask
    # recompute the finished blocks whose results died with the worker (their inputs skipped by
    # the store, so the ledger above alone could not tell).
    def starts(dask_scheduler: Any, eid: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in dask_scheduler.transition_log:
            if eid in str(t.key) and t.finish == "processing":
                counts[str(t.key)] = counts.get(str(t.key), 0) + 1
        return counts

    started = client.run_on_scheduler(starts, eid=run.id)
    assert sorted(started.values()) == [2], started
    ledger.record("worker killed mid-chain", lost=n - summary.finished, rerun=len(twice), bound=FLUSH)


def test_a_worker_killed_mid_pack_on_s3_reruns_only_what_it_had_not_flushed(
    make_cluster: Any, moto_server: Any, tmp_path: Path
) -> None:
    # On an object store each worker's blocks share one pack, run as one stream whose flushes
    # may cover several blocks: after a kill the rerun reads them back block by block, skips
    # what concluded and counts every input once.
    client = make_cluster(n_workers=2)
    _, calls, gates = _dirs(tmp_path)
    pylo = Pylo.dask(client, f"s3://{moto_server.new_bucket()}/store", storage_options=moto_server.options(),
                     number_of_workers=2, block_size=12, task_executions_before_flush=FLUSH, flush_interval=60.0)
    n = 600
    kill_at = (17, 89)  # one in each worker's first pack: blocks 0-5 are one pack, 6-11 the next
    run = pylo.submit(range(n), functools.partial(fault_tasks.gated, str(calls), str(gates), kill_at))
    assert [b.pack for b in pylo.store.read_manifest(run.id).blocks[:12]] == [0] * 6 + [6] * 6
    for x in kill_at:
        _kill_at_gate(client, gates, x)
    summary = _ended_whole(pylo, run, n)
    assert sum(w.finished for w in summary.workers) == n
    twice = reruns(calls)
    assert {str(x) for x in kill_at} <= twice.keys() and all(k == 2 for k in twice.values()), twice
