"""Entry point of the benchmarks: ``python benchmarks/run.py [--quick] [--only ID ...]``.

Prints a Markdown table of figures and ratios against the peers measured in the same run, and
writes the numbers to ``benchmarks/results/latest.json`` (or ``--json PATH``). It asserts nothing:
performance is reported here, never checked by timed unit tests.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_core  # noqa: E402
import bench_dynamic  # noqa: E402
import bench_reads  # noqa: E402
from _support import machine, table  # noqa: E402


def condition(quick: bool) -> list[dict[str, Any]]:
    """The engine row: one AfterAnother hop and no-op ThreadJobs, against executor-engine."""
    import bench_engine

    r = bench_engine.main(quick)
    have_peer = r["executor_engine_thread_jobs_per_s"] == r["executor_engine_thread_jobs_per_s"]  # not nan
    peer_hop = f"executor-engine {r['executor_engine_hop_median_ms']:.2f} ms" if have_peer else "executor-engine not installed"
    peer_jobs = (f"executor-engine {r['executor_engine_thread_jobs_per_s']:,.0f} jobs/s" if have_peer
                 else "executor-engine not installed")
    return [
        {"id": "condition", "what": f"median AfterAnother hop, {int(r['engine_hops'])}-stage chain",
         "figure": f"{r['engine_hop_median_ms']:.3f} ms", "peer": peer_hop,
         "ratio": f"{r['hop_speedup']:.0f}× shorter" if have_peer else "—", "target": "≤ 1 ms",
         "met": r["engine_hop_median_ms"] <= 1.0},
        {"id": "condition", "what": f"{int(r['engine_thread_jobs']):,} no-op ThreadJobs",
         "figure": f"{r['engine_thread_jobs_per_s']:,.0f} jobs/s", "peer": peer_jobs,
         "ratio": f"{r['throughput_ratio']:.1f}×" if have_peer else "—", "target": "≥ 10×",
         "met": r["throughput_ratio"] >= 10 if have_peer else "—"},
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, about two minutes in all")
    parser.add_argument("--only", nargs="*", help="benchmark ids to run (default: all)")
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "results", "latest.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    benches = [*bench_core.ROWS, *bench_reads.ROWS, *bench_dynamic.ROWS, condition]
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for bench in benches:
        name = bench.__name__.replace("_", "-")
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        got = bench(args.quick)
        rows.extend(got)
        print(f"[{name}: {time.perf_counter() - t0:.1f} s]", file=sys.stderr, flush=True)
    print(f"\nMachine: {machine()}; {'quick' if args.quick else 'full'} sizes; {time.perf_counter() - started:.0f} s\n")
    print(table(rows))
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump(
            {"when": datetime.datetime.now(datetime.timezone.utc).isoformat(), "machine": machine(),
             "quick": args.quick, "rows": rows},
            fh, indent=1, default=str,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
