"""What pylo's own machinery costs per worker-minute: ``python benchmarks/cost.py [--seconds N] [--quick]``.

On a LocalCluster of 2 worker processes × 2 threads, pylo runs inputs whose task only sleeps
(0.2 s, then 0.02 s), on local disk and on S3 (a moto server on 127.0.0.1); hand-batched
``client.map`` runs the same inputs in chunks of 20, the loop users write. Each is measured over
a steady window of ``--seconds`` (default 30, ``--quick`` 8) once every worker runs, early in a
run sixteen windows long, then cancelled. The tasks use no CPU, so what the cluster's processes
spend in the window (the worker processes, and this one: the client, the scheduler and the
nannies of a LocalCluster) is machinery: Dask's under both, pylo's on top of it under pylo. The
moto server's own CPU is the store's and is left out.

Per worker-minute (a worker is a Dask thread): each one's CPU, pylo's extra and its share of one
core, and pylo's store requests: on S3 counted by the server (moto's recorder), on local disk as
pylo's store operations counted in every process (a write is a temp file, its fsync and a rename).
The claiming client's lease is per client, not per worker: it is shown apart. Asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import logging
import math
import os
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _support import count_store_operations, local_cluster, machine, recording_moto  # noqa: E402
from bench_dynamic import CHUNK, run_chunk, sleep_for  # noqa: E402

PROCESSES, THREADS = 2, 2
WORKERS = PROCESSES * THREADS  # a worker is a Dask thread: pylo's default runs one on each
TASKS = (("slow", 0.2), ("fast", 0.02))
WARM = 3.0  # seconds from the start of a run until every worker runs its tasks
# The inputs would last sixteen windows: a long run, whose first blocks (each 1/8 of a worker's
# share: two windows) outlast the window, so that it sees what a worker pays per minute between
# two blocks. A block's own requests (its take, its inputs, its last segment) come a bounded
# number of times per run, whatever its length: a short run pays them in fewer minutes.
RUN_WINDOWS = 16


class ClusterCount:
    """pylo's store operations on local disk, counted in this process and every worker process."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def start(self) -> None:
        self.client.run(count_store_operations, True)
        count_store_operations(True)

    def stop(self) -> collections.Counter[str]:
        counts = count_store_operations(False)
        for worker in self.client.run(count_store_operations, False).values():
            counts.update(worker)
        return counts


def processes(client: Any) -> list[Any]:
    """The cluster's processes: the workers, and this one (the client, a LocalCluster's scheduler
    and nannies; the scheduler's too, were it apart)."""
    import psutil

    pids = {os.getpid(), client.run_on_scheduler(os.getpid), *client.run(os.getpid).values()}
    return [psutil.Process(pid) for pid in pids]


def cpu_in(procs: list[Any], seconds: float) -> tuple[float, float]:
    """(CPU seconds, user and system, that ``procs`` spend in the next ``seconds``; the wall time)."""

    def cpu() -> float:
        return sum(t.user + t.system for t in (p.cpu_times() for p in procs))

    before, t0 = cpu(), time.monotonic()
    time.sleep(seconds)  # the measured window: the run goes on by itself meanwhile
    return cpu() - before, time.monotonic() - t0


def inputs(cost: float, seconds: float) -> list[float]:
    """Inputs of ``cost`` seconds that keep every worker busy for ``RUN_WINDOWS`` windows."""
    return [cost] * math.ceil(WORKERS * RUN_WINDOWS * seconds / cost)


def pylo_window(client: Any, store: str, options: dict[str, Any], counter: Any, costs: list[float],
                seconds: float) -> tuple[float, float, collections.Counter[str]]:
    """pylo over ``costs``: (CPU seconds, window, store requests) of a steady window."""
    from pylo import Pylo

    pylo = Pylo.dask(client, store, storage_options=options)
    run = pylo.submit(costs, sleep_for)
    time.sleep(WARM)
    counter.start()
    cpu, wall = cpu_in(processes(client), seconds)
    counts = counter.stop()
    run.cancel()
    run.wait(120)
    pylo.close()
    return cpu, wall, counts


def map_window(client: Any, costs: list[float], seconds: float) -> tuple[float, float]:
    """Hand-batched ``client.map`` over ``costs``: (CPU seconds, window) of a steady window."""
    futures = client.map(run_chunk, [costs[i:i + CHUNK] for i in range(0, len(costs), CHUNK)], pure=False)
    time.sleep(WARM)
    cpu, wall = cpu_in(processes(client), seconds)
    client.cancel(futures)
    time.sleep(CHUNK * costs[0])  # the chunks already running finish their sleeps before the next case
    return cpu, wall


def per_minute(n: float, wall: float) -> float:
    return n * 60 / wall / WORKERS


def row(tasks: str, store: str, pylo: tuple[float, float, collections.Counter[str]],
        peer: tuple[float, float]) -> dict[str, Any]:
    cpu, wall, counts = pylo
    ms, peer_ms = per_minute(cpu * 1e3, wall), per_minute(peer[0] * 1e3, peer[1])
    client = sum(n for k, n in counts.items() if k.endswith("client lease"))
    kinds = ", ".join(f"{k} {per_minute(n, wall):.1f}" for k, n in counts.most_common()
                      if not k.endswith("client lease"))
    return {"tasks": tasks, "store": store, "pylo_ms": ms, "map_ms": peer_ms, "extra_ms": ms - peer_ms,
            "requests": per_minute(sum(counts.values()) - client, wall), "client_lease": client * 60 / wall,
            "by_kind": kinds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, help="the measured window of each case (default 30)")
    parser.add_argument("--quick", action="store_true", help="8 s windows")
    args = parser.parse_args(argv)
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    logging.basicConfig(level=logging.ERROR)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, local_cluster(PROCESSES, THREADS) as client, \
            recording_moto(tmp) as (url, storage, server):
        client.gather(client.map(sleep_for, [0.0] * WORKERS, pure=False))  # warm
        for tasks, cost in TASKS:
            costs = inputs(cost, seconds)
            peer = map_window(client, costs, seconds)
            local = pylo_window(client, f"{tmp}/{tasks}", {}, ClusterCount(client), costs, seconds)
            s3 = pylo_window(client, f"{url}-{tasks}", storage, server, costs, seconds)
            label = f"{tasks} ({cost:g} s)"
            rows += [row(label, "local disk", local, peer), row(label, "S3 (moto)", s3, peer)]
    print(f"pylo's machinery per worker-minute: {PROCESSES} processes × {THREADS} threads, tasks that only "
          f"sleep, a {seconds:g} s window each; {machine()}")
    print("| tasks | store | pylo CPU, ms | client.map CPU, ms | pylo's extra, ms | extra, share of one core | "
          "store requests | by kind | client lease per minute |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['tasks']} | {r['store']} | {r['pylo_ms']:,.0f} | {r['map_ms']:,.0f} | {r['extra_ms']:,.0f} | "
              f"{r['extra_ms'] / 600:.2f} % | {r['requests']:.1f} | {r['by_kind']} | {r['client_lease']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
