"""Dynamic scheduling: uneven inputs, a cluster that grows, many workers, small maps.

Each case runs pylo and hand-batched ``client.map`` (chunks of 20, the loop users write) on the
same cluster and inputs, one after the other, and prints each one's efficiency: the ideal
makespan (the work divided by the threads, as they join) over the measured one.

    python benchmarks/bench_dynamic.py [--quick] [--only skew elastic many small]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

CHUNK = 20


def sleep_for(seconds: float) -> None:
    time.sleep(seconds)


def run_chunk(costs: list[float]) -> int:
    for c in costs:
        time.sleep(c)
    return len(costs)


def _hand_batched(client: Any, costs: list[float]) -> float:
    t0 = time.perf_counter()
    chunks = [costs[i:i + CHUNK] for i in range(0, len(costs), CHUNK)]
    client.gather(client.map(run_chunk, chunks, pure=False))
    return time.perf_counter() - t0


def _pylo(client: Any, costs: list[float], store: str, **options: Any) -> float:
    from pylo import Pylo

    pylo = Pylo.dask(client, store, **options)
    t0 = time.perf_counter()
    pylo.start_from_scratch(costs, sleep_for, progress=False)
    elapsed = time.perf_counter() - t0
    pylo.close()
    return elapsed


@contextlib.contextmanager
def _cluster(n_workers: int, threads: int, processes: bool = True) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    # In one process every worker's memory monitor sees the whole process: 256 workers of 1/256
    # of the memory each would all pause at once, and nothing would run.
    memory = {} if processes else {"memory_limit": 0}
    with LocalCluster(n_workers=n_workers, threads_per_worker=threads, processes=processes,
                      dashboard_address=None, **memory) as cluster, Client(cluster) as client:
        yield client


def _row(case: str, what: str, ideal: float, t_pylo: float, t_hand: float, target: float) -> dict[str, Any]:
    e_pylo, e_hand = ideal / t_pylo, ideal / t_hand
    return {"id": case, "what": what, "figure": f"efficiency {e_pylo:.2f} ({t_pylo:.2f} s)",
            "peer": f"client.map, chunks of {CHUNK}: {e_hand:.2f} ({t_hand:.2f} s)",
            "ratio": f"{e_pylo / e_hand:.2f}×", "target": f"≥ {target}×", "met": e_pylo / e_hand >= target,
            "value": e_pylo / e_hand}


def skew(quick: bool) -> list[dict[str, Any]]:
    """2,000 inputs of 5 ms whose last 80 cost 150 ms (inputs listed by size), 2 processes × 4 threads."""
    n, tail = (1_000, 40) if quick else (2_000, 80)
    costs = [0.005] * (n - tail) + [0.150] * tail
    ideal = sum(costs) / 8
    with _cluster(2, 4) as client, tempfile.TemporaryDirectory() as tmp:
        client.gather(client.map(sleep_for, [0.0] * 8, pure=False))  # warm
        t_hand = _hand_batched(client, costs)
        t_pylo = _pylo(client, costs, f"{tmp}/store")
    return [_row("skew", f"{n:,} inputs of 5 ms, the last {tail} of 150 ms; 2 procs × 4 threads",
                 ideal, t_pylo, t_hand, 1.0)]


def _grow_after(cluster: Any, seconds: float, n: int) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), cluster.scale(n)), daemon=True)
    thread.start()
    return thread


def elastic(quick: bool) -> list[dict[str, Any]]:
    """1,600 inputs of 10 ms; the cluster grows from 1 process × 2 threads to 4 × 2 after 1 s."""
    from distributed import Client, LocalCluster

    n = 800 if quick else 1_600
    costs = [0.010] * n
    ideal = 1.0 + (sum(costs) - 2 * 1.0) / 8  # two threads for a second, then eight

    def once(run: Callable[[Any], float]) -> float:
        with LocalCluster(n_workers=1, threads_per_worker=2, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            client.gather(client.map(sleep_for, [0.0] * 2, pure=False))
            _grow_after(cluster, 1.0, 4)
            return run(client)

    with tempfile.TemporaryDirectory() as tmp:
        t_hand = once(lambda client: _hand_batched(client, costs))
        t_pylo = once(lambda client: _pylo(client, costs, f"{tmp}/store"))
    return [_row("elastic", f"{n:,} inputs of 10 ms; 1 proc × 2 threads, 4 × 2 after 1 s",
                 ideal, t_pylo, t_hand, 1.0)]


def many(quick: bool) -> list[dict[str, Any]]:
    """In-process LocalCluster of N single-thread workers, inputs of 50 ms, 40 per worker."""
    rows = []
    for workers in ([64] if quick else [64, 256, 512]):
        costs = [0.050] * (40 * workers)
        ideal = 40 * 0.050
        with _cluster(workers, 1, processes=False) as client, tempfile.TemporaryDirectory() as tmp:
            client.gather(client.map(sleep_for, [0.0] * workers, pure=False))
            t_hand = _hand_batched(client, costs)
            t_pylo = _pylo(client, costs, f"{tmp}/store")
        rows.append(_row("many", f"{workers} workers (in-process), {len(costs):,} inputs of 50 ms",
                         ideal, t_pylo, t_hand, 0.9))
    return rows


def noop(x: Any) -> None:
    pass


def small(quick: bool) -> list[dict[str, Any]]:
    """A warm run of 8 no-op inputs against client.map + gather, median of many."""
    from pylo import Pylo

    repeat = 10 if quick else 30
    with _cluster(2, 1) as client, tempfile.TemporaryDirectory() as tmp:
        pylo = Pylo.dask(client, f"{tmp}/store")
        pylo.start_from_scratch(range(8), noop, progress=False)
        client.gather(client.map(noop, range(8), pure=False))
        t_pylo = statistics.median(_timed(lambda: pylo.start_from_scratch(range(8), noop, progress=False))
                                   for _ in range(repeat))
        t_map = statistics.median(_timed(lambda: client.gather(client.map(noop, range(8), pure=False)))
                                  for _ in range(repeat))
    return [{"id": "small", "what": "warm run of 8 no-op inputs, 2 procs × 1 thread, local store",
             "figure": f"{t_pylo * 1e3:.1f} ms", "peer": f"client.map + gather {t_map * 1e3:.1f} ms",
             "ratio": f"{t_map / t_pylo:.2f}×", "target": "≥ 0.9×", "met": t_map / t_pylo >= 0.9,
             "value": t_map / t_pylo}]


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


ROWS = [skew, elastic, many, small]


def main(argv: list[str] | None = None) -> int:
    from _support import table

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    rows: list[dict[str, Any]] = []
    for bench in ROWS:
        if args.only and bench.__name__ not in args.only:
            continue
        rows.extend(bench(args.quick))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
