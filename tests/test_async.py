"""Asynchronous clients and the awaitable twins: ``Pylo.dask`` takes a ``Client(asynchronous=True)``
and the event loop stays responsive while an execution is planned, runs and is read back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import dask.bag as db
import pytest

import tasks
from pylo import InvalidArgument, Pylo, Status

pytestmark = pytest.mark.slow


class Ticker:
    """A coroutine on the loop under test that wakes every 10 ms and keeps its longest wait."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.ticks = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.worst = max(self.worst, now - last)
            self.ticks += 1
            last = now

    def stop(self) -> None:
        self._stop.set()


async def _async_cluster_run(store: Path) -> tuple[Ticker, dict[str, Any]]:
    from distributed import Client, LocalCluster

    seen: dict[str, Any] = {}
    async with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                            asynchronous=True) as cluster:
        async with Client(cluster, asynchronous=True) as client:
            pylo = Pylo.dask(client, store, store_results=True, block_size=20_000)
            with pytest.raises(InvalidArgument, match="asynchronous"):  # blocking calls on the loop are refused
                pylo.submit(range(3), tasks.noop)
            ticker = Ticker()
            ticking = asyncio.ensure_future(ticker.run())
            run = await pylo.submit_async(range(200_000), tasks.ten_times_failing_1000)
            eid = await run
            seen["status"] = run.status
            seen["state"] = await pylo.get_state_async(eid)
            seen["summary"] = await pylo.summary_async(eid)
            seen["exceptions"] = await pylo.get_exceptions_async(eid, ValueError)
            seen["results"] = [pair async for pair in pylo.get_results_async(eid)]
            again = await pylo.start_from_past_execution_async(eid, tasks.ok_string, progress=False)
            seen["again"] = await pylo.summary_async(again)
            bag = db.range(30, npartitions=3).map_partitions(tasks.partition_of_strings)
            from_bag = await pylo.start_from_scratch_async(bag, tasks.fail_s7, progress=False)
            seen["bag"] = await client.compute(await pylo.results_bag_async(from_bag))
            ticker.stop()
            await ticking
    return ticker, seen


def test_an_asynchronous_client_runs_and_never_blocks_the_loop(tmp_path: Path) -> None:
    ticker, seen = asyncio.run(_async_cluster_run(tmp_path / "store"))
    bad = list(range(0, 200_000, 1000))
    assert seen["status"] is Status.DONE
    finished, unfinished = seen["state"]
    assert unfinished == bad and len(finished) == 200_000 - len(bad)
    assert seen["summary"].failed == len(bad)
    assert len(seen["exceptions"]) == len(bad)
    assert seen["results"][:3] == [(1, 10), (2, 20), (3, 30)] and len(seen["results"]) == len(finished)
    assert all(result == 10 * x for x, result in seen["results"])
    assert seen["again"].unfinished == 0
    assert seen["bag"] == [(f"s{x:05d}", f"S{x:05d}") for x in range(30) if x % 7]
    assert ticker.ticks > 50
    assert ticker.worst < 0.5, f"the event loop was blocked for {ticker.worst:.2f}s"


def test_awaitable_twins_on_threads(tmp_path: Path) -> None:
    async def main() -> tuple[Any, ...]:
        pylo = Pylo.local_multithread(tmp_path / "store", number_of_workers=2, store_results=True)
        eid = await pylo.start_from_scratch_async(range(30), tasks.fail_kinds, progress=False)
        frame = await pylo.exceptions_frame_async(eid, TimeoutError)
        rerun = await pylo.start_from_past_execution_async(eid, tasks.ok_string, only=TimeoutError, progress=False)
        attached = await pylo.attach_async(rerun, poll=0.05)  # it has ended: the handle ends at once
        assert await attached == rerun and attached.progress().finished == 4
        again = await pylo.resume_or_attach_async(rerun, tasks.ok_string)  # nothing runs it: a resume
        assert await again != rerun
        return (await pylo.get_state_async(rerun), frame, [p async for p in pylo.get_results_async(rerun, batch=4)],
                (await pylo.verify_async(rerun)).ok)

    (finished, unfinished), frame, results, ok = asyncio.run(main())
    assert frame["position"].tolist() == [5, 10, 20, 25]
    assert unfinished == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27] and ok
    assert [x for x, _ in results] == finished and results[3] == (5, "fixed 5") and results[2] == (4, "ok 4")


def test_cancelling_the_awaiting_task_cancels_the_run(tmp_path: Path) -> None:
    import threading

    started, gate = threading.Event(), threading.Event()

    def gated(x: int) -> None:  # each input takes 10 ms once released: the cancel lands long before the end
        started.set()
        gate.wait(30)
        time.sleep(0.01)

    async def main() -> Pylo:
        pylo = Pylo.local_multithread(tmp_path / "store", number_of_workers=1)
        waiting = asyncio.ensure_future(pylo.start_from_scratch_async(range(100), gated, progress=False))
        assert await asyncio.to_thread(started.wait, 30)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        gate.set()
        return pylo

    pylo = asyncio.run(main())
    (eid,) = pylo.executions()
    assert pylo.store.cancel_requested(eid)
    deadline = time.monotonic() + 30
    while not (summary := pylo.summary(eid)).complete:  # the worker stops between inputs, flushes, ends
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert summary.finished >= 1 and summary.pending > 0
