"""Job engine benchmark: median AfterAnother hop latency along a chain of no-op ThreadJobs, and
throughput of many no-op ThreadJobs, for pylo.engine and (when installed) executor-engine, in the
same run.

    python benchmarks/bench_engine.py [--quick] [--json PATH]

``main(quick) -> dict[str, float]`` is what ``benchmarks/run.py`` calls.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from typing import Any

HOPS, HOPS_QUICK = 50, 20
JOBS, JOBS_QUICK = 10_000, 1_000
EE_JOBS, EE_JOBS_QUICK = JOBS, 300  # executor-engine takes ~20 s for 10,000: fewer when quick


def _stamp(marks: list[float]) -> None:
    marks.append(time.perf_counter())


def pylo_hops(n: int) -> float:
    """Median seconds from one chain job's start to the next one's start."""
    from pylo.conditions import AfterAnother
    from pylo.engine import Engine, ThreadJob

    marks: list[float] = []
    with Engine() as engine:
        jobs = [ThreadJob(_stamp, args=(marks,))]
        for _ in range(n - 1):
            jobs.append(ThreadJob(_stamp, args=(marks,), condition=AfterAnother(jobs[-1].id, statuses=("done",))))
        for job in reversed(jobs):  # downstream first: each waits for its upstream
            engine.submit(job)
        engine.wait()
    return statistics.median(b - a for a, b in zip(marks, marks[1:]))


def pylo_throughput(n: int) -> float:
    """No-op ThreadJobs per second, submit to last result."""
    from pylo.engine import Engine, EngineSetting, ThreadJob

    # the same call and the same (unlimited) setting as executor-engine's run below
    with Engine(EngineSetting(max_jobs=None)) as engine:
        start = time.perf_counter()
        engine.submit(*[ThreadJob(_noop) for _ in range(n)])
        engine.wait()
        return n / (time.perf_counter() - start)


def _noop() -> None:
    pass


def _quiet_executor_engine() -> None:
    """executor-engine logs every job through loguru to stderr: keep the table readable."""
    try:
        from loguru import logger
    except ImportError:
        return
    logger.remove()


def ee_hops(n: int) -> float | None:
    try:
        from executor.engine import Engine, EngineSetting, ThreadJob
        from executor.engine.job.condition import AfterAnother
    except ImportError:
        return None
    _quiet_executor_engine()
    marks: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, Engine(setting=EngineSetting(cache_type="none", cache_path=tmp)) as engine:
        jobs = [ThreadJob(_stamp, args=(marks,))]
        for _ in range(n - 1):
            jobs.append(ThreadJob(_stamp, args=(marks,), condition=AfterAnother(job_id=jobs[-1].id)))
        for job in reversed(jobs):
            engine.submit(job)
        engine.wait()
    return statistics.median(b - a for a, b in zip(marks, marks[1:]))


def ee_throughput(n: int) -> float | None:
    try:
        from executor.engine import Engine, EngineSetting, ThreadJob
    except ImportError:
        return None
    _quiet_executor_engine()
    setting = EngineSetting(max_jobs=None, max_thread_jobs=None, cache_type="none")
    with tempfile.TemporaryDirectory() as tmp, Engine(setting=dataclasses.replace(setting, cache_path=tmp)) as engine:
        start = time.perf_counter()
        engine.submit(*[ThreadJob(_noop) for _ in range(n)])
        engine.wait()
        return n / (time.perf_counter() - start)


def main(quick: bool = False) -> dict[str, float]:
    """Run both engines; return the figures (``nan`` where executor-engine is not installed)."""
    hops, jobs, ee_jobs = (HOPS_QUICK, JOBS_QUICK, EE_JOBS_QUICK) if quick else (HOPS, JOBS, EE_JOBS)
    out: dict[str, float] = {
        "engine_hops": float(hops),
        "engine_hop_median_ms": pylo_hops(hops) * 1e3,
        "engine_thread_jobs": float(jobs),
        "engine_thread_jobs_per_s": pylo_throughput(jobs),
    }
    ee_hop, ee_rate = ee_hops(hops), ee_throughput(ee_jobs)
    out["executor_engine_hop_median_ms"] = float("nan") if ee_hop is None else ee_hop * 1e3
    out["executor_engine_thread_jobs"] = float(ee_jobs)
    out["executor_engine_thread_jobs_per_s"] = float("nan") if ee_rate is None else ee_rate
    out["hop_speedup"] = out["executor_engine_hop_median_ms"] / out["engine_hop_median_ms"]
    out["throughput_ratio"] = out["engine_thread_jobs_per_s"] / out["executor_engine_thread_jobs_per_s"]
    return out


def _table(results: dict[str, Any]) -> str:
    def show(value: float, fmt: str) -> str:
        return "not installed" if value != value else format(value, fmt)

    rows = [
        ("", "pylo.engine", "executor-engine", "ratio"),
        (f"median AfterAnother hop ({int(results['engine_hops'])} jobs)",
         show(results["engine_hop_median_ms"], ".3f") + " ms",
         show(results["executor_engine_hop_median_ms"], ".3f") + " ms",
         show(results["hop_speedup"], ".1f") + "x faster"),
        (f"no-op ThreadJobs ({int(results['engine_thread_jobs'])} / {int(results['executor_engine_thread_jobs'])})",
         show(results["engine_thread_jobs_per_s"], ",.0f") + " /s",
         show(results["executor_engine_thread_jobs_per_s"], ",.0f") + " /s",
         show(results["throughput_ratio"], ".1f") + "x"),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 20 s)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    ns = parser.parse_args()
    figures = main(ns.quick)
    print(_table(figures))
    if ns.json:
        with open(ns.json, "w") as fh:  # NaN (not installed) is written as null: plain JSON
            json.dump({k: (None if v != v else v) for k, v in figures.items()}, fh, indent=2)
