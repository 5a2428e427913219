"""Scaling across worker processes: ``python benchmarks/scaling.py [--workers 1 2 4 8 16] [--n N]``.

For each count of Dask worker processes (1 thread each, a LocalCluster), runs N no-op inputs
through ``Pylo.dask`` (local store) and through the hand-batched peer — ``client.map`` over the
same blocks, lists shipped, no bookkeeping — in the same cluster, and prints the ratio. Made for
a machine with at least as many cores as the largest count (16); on a smaller one the counts
above its cores measure contention, not scaling. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _support import local_cluster, noop, run_batch, table  # noqa: E402

from pylo import Pylo  # noqa: E402


def one(workers: int, n: int, block: int) -> dict[str, Any]:
    blocks = [list(range(i, min(n, i + block))) for i in range(0, n, block)]
    with local_cluster(workers) as client, tempfile.TemporaryDirectory() as tmp:
        client.wait_for_workers(workers)
        pylo = Pylo.dask(client, f"{tmp}/store", block_size=block)
        pylo.start_from_scratch(range(min(n, block * workers)), noop, progress=False)  # warm the workers
        t0 = time.perf_counter()
        pylo.start_from_scratch(range(n), noop, progress=False)
        t_pylo = time.perf_counter() - t0
        t0 = time.perf_counter()
        client.gather(client.map(run_batch, blocks, pure=False))
        t_hand = time.perf_counter() - t0
    ratio = t_hand / t_pylo
    return {"id": "scaling", "what": f"{workers} worker processes, {n:,} no-op inputs",
            "figure": f"{n / t_pylo:,.0f} inputs/s", "peer": f"hand-batched {n / t_hand:,.0f} inputs/s",
            "ratio": f"{ratio:.2f}×", "target": "≥ 0.9×", "met": ratio >= 0.9}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4, 8, 16])
    parser.add_argument("--n", type=int, default=2_000_000, help="inputs per run (default 2,000,000)")
    parser.add_argument("--block", type=int, default=10_000)
    args = parser.parse_args(argv)
    rows = []
    for workers in args.workers:
        rows.append(one(workers, args.n, args.block))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(f"\n{os.cpu_count()} cores\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
