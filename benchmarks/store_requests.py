"""Store requests per worker-hour with slow (1 s) tasks: ``python benchmarks/store_requests.py [--seconds N]``.

Runs Pylo workers (threads of this process) over 1 s tasks on local disk and on S3 (a moto
server on 127.0.0.1), counts the store requests of a steady window of ``--seconds`` once every
worker runs, and extrapolates to one worker-hour. On S3 the server itself counts them (moto's
request recorder), by method and kind of object; on local disk each store operation of pylo's
is counted in the process. On S3 the same run at the periods pylo used before (flush every 5 s,
lease every 2 s, cancel poll every 1 s) is shown beside the defaults; local disk kept its own. The claiming client's own lease
is per client, not per worker: it is shown apart. Prints a Markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _support import count_store_operations, recording_moto  # noqa: E402
from pylo import Pylo  # noqa: E402

WORKERS = 4
TASK_SECONDS = 1.0
BEFORE = {"flush_interval": 5.0, "lease_interval": 2.0, "cancel_poll": 1.0}  # the periods of old


def slow_task(seconds: float, x: Any) -> None:
    time.sleep(seconds)  # the workload: a slow task


class ProcessCount:
    """pylo's store operations on local disk, counted in this process between ``start`` and ``stop``."""

    def start(self) -> None:
        count_store_operations(True)

    def stop(self) -> collections.Counter[str]:
        return count_store_operations(False)


def measure(pylo: Pylo, counter: Any, seconds: float) -> tuple[collections.Counter[str], float]:
    """Requests of a steady window of ``seconds`` while WORKERS workers run slow tasks."""
    run = pylo.submit(range(WORKERS * int(seconds * 4 + 60)), functools.partial(slow_task, TASK_SECONDS))
    time.sleep(2 * TASK_SECONDS)  # every worker has started (its first block read, its lease written)
    counter.start()
    t0 = time.monotonic()
    time.sleep(seconds)  # the measured window: the run goes on by itself meanwhile
    counts = counter.stop()
    window = time.monotonic() - t0
    run.cancel()
    run.wait(120)
    return counts, window


def per_worker_hour(counts: collections.Counter[str], window: float) -> tuple[float, float]:
    """(requests per worker-hour of the workers, requests per hour of the client's lease)."""
    client = sum(n for k, n in counts.items() if k.endswith("client lease"))
    workers = sum(counts.values()) - client
    return workers * 3600 / window / WORKERS, client * 3600 / window


def row(store: str, cadence: str, counts: collections.Counter[str], window: float) -> dict[str, Any]:
    workers, client = per_worker_hour(counts, window)
    kinds = ", ".join(f"{k} {n * 3600 / window / WORKERS:,.0f}" for k, n in counts.most_common()
                      if not k.endswith("client lease"))
    return {"store": store, "cadence": cadence, "per_worker_hour": round(workers), "client_lease_per_hour":
            round(client), "by_kind": kinds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window of each run")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pylo = Pylo.local_multithread(os.path.join(tmp, "local"), number_of_workers=WORKERS)
        rows.append(row("local disk", "defaults (as before)", *measure(pylo, ProcessCount(), args.seconds)))
        with recording_moto(tmp) as (url, storage, server):
            for cadence, options in (("defaults", {}), ("before (5 s, 2 s, 1 s)", BEFORE)):
                pylo = Pylo.local_multithread(url + cadence[:6], number_of_workers=WORKERS, storage_options=storage,
                                              **options)
                rows.append(row("S3 (moto)", cadence, *measure(pylo, server, args.seconds)))
    print(f"store requests per worker-hour, {WORKERS} workers, {TASK_SECONDS:g} s tasks, "
          f"a {args.seconds:g} s window extrapolated; budget 720 on object stores")
    print("| store | periods | per worker-hour | client lease per hour | by kind, per worker-hour |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['store']} | {r['cadence']} | {r['per_worker_hour']:,} | {r['client_lease_per_hour']:,} | "
              f"{r['by_kind']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
