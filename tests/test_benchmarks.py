"""The benchmarks run at small sizes in the suite, so they never rot. Nothing here is timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.timeout(400)
def test_bench_quick_runs_every_row(tmp_path: Any) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=380, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    ids = {r["id"] for r in rows}
    assert {"throughput", "threads", "results", "s3", "scheduler", "ten_million", "flush", "resume", "memory", "bag",
            "io-bound", "results-bag", "state", "skew", "elastic", "many", "small", "condition"} <= ids
    assert "| throughput |" in proc.stdout
    assert os.listdir(tmp_path) == ["bench.json"]  # no store left behind in the working directory


@pytest.mark.timeout(300)
def test_the_scaling_benchmark_runs_at_small_counts(tmp_path: Any) -> None:
    # Made for a many-core machine; here at one and two worker processes so that it never rots.
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "scaling.py"), "--workers", "1", "2", "--n", "20000"],
        capture_output=True, text=True, timeout=280, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| scaling | 1 worker processes" in proc.stdout and "| scaling | 2 worker processes" in proc.stdout
    assert os.listdir(tmp_path) == []


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("script", "rows"), [
    ("store_requests.py", ("| local disk | defaults (as before) |", "| S3 (moto) | defaults |")),
    ("cost.py", ("| slow (0.2 s) | local disk |", "| fast (0.02 s) | S3 (moto) |")),
])
def test_a_benchmark_of_store_requests_runs_with_a_short_window(tmp_path: Any, script: str,
                                                                rows: tuple[str, ...]) -> None:
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", script), "--seconds", "1"],
        capture_output=True, text=True, timeout=280, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert all(row in proc.stdout for row in rows), proc.stdout
    assert os.listdir(tmp_path) == []  # no store or recording left behind
