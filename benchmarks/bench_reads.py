"""Reading an execution back: results as a bag against ``get_results`` on S3 (time and requests),
and what ``get_state`` of a big execution costs the client against its streamed and bag forms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from _support import counting_moto_s3, local_cluster

from pylo import Pylo


def identity(x: Any) -> Any:
    return x


def _timed(call: Callable[[], Any], requests: Callable[[], int]) -> tuple[float, int]:
    before, t0 = requests(), time.perf_counter()
    call()
    return time.perf_counter() - t0, requests() - before


def results_bag(quick: bool) -> list[dict[str, Any]]:
    """``results_bag(eid).compute()`` against ``list(get_results(eid))`` of the same results on a
    moto S3 server, for a fresh execution and for a resume of it (a chain)."""
    n = 20_000 if quick else 200_000
    rows = []
    with local_cluster(2) as client, counting_moto_s3() as (url, options, requests):
        pylo = Pylo.dask(client, url, storage_options=options, store_results=True, block_size=1_000)
        eid = pylo.start_from_scratch(range(n), identity, progress=False)
        # A chain: the resume finishes nothing new, so its bag reads the root's results through it.
        again = pylo.start_from_past_execution(eid, identity, progress=False)
        for label, execution in (("an execution", eid), ("its resume (a chain)", again)):
            t_list, r_list = _timed(lambda: sum(1 for _ in pylo.get_results(execution)), requests)
            t_bag, r_bag = _timed(lambda: pylo.results_bag(execution).count().compute(scheduler=client), requests)
            rows.append(
                {"id": "results-bag", "what": f"results_bag of {label}, {n:,} results, moto S3, 2 procs",
                 "figure": f"{t_bag:.2f} s, {r_bag:,} requests", "peer": f"get_results {t_list:.2f} s, {r_list:,} requests",
                 "ratio": f"{r_bag / max(r_list, 1):.2f}× the requests", "target": "≤ 1.1× the requests",
                 "met": r_bag <= 1.1 * r_list})
    return rows


_STATE_SCRIPT = """
import gc, json, sys, time
sys.path.insert(0, {here!r})
from _support import PeakRss
from pylo import Pylo
n, mode, store, eid = {n}, {mode!r}, {store!r}, {eid!r}
pylo = Pylo.local_multithread(store, number_of_workers=2)
pylo.get_state(pylo.start_from_scratch(range(10), str, progress=False))   # warm: imports, first reads
gc.collect()
t0 = time.perf_counter()
with PeakRss() as peak:   # of this (client) process while the measured call runs
    if mode == "get_state":
        kept = pylo.get_state(eid)
    elif mode == "iter":
        kept = sum(1 for _ in pylo.iter_finished(eid)) + sum(1 for _ in pylo.iter_unfinished(eid))
    else:   # what the two lists need, built directly
        kept = (list(range(n)), [])
print(json.dumps({{"growth": peak.growth, "seconds": time.perf_counter() - t0}}))
"""


def _state_growth(n: int, mode: str, store: str, eid: str) -> tuple[int, float]:
    here = os.path.dirname(os.path.abspath(__file__))
    script = _STATE_SCRIPT.format(here=here, n=n, mode=mode, store=store, eid=eid)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return int(got["growth"]), float(got["seconds"])


def state(quick: bool) -> list[dict[str, Any]]:
    """The client's peak RSS growth while ``get_state`` of ``n`` finished inputs runs (local
    store), against streaming them and against the two lists alone."""
    import tempfile

    n = 200_000 if quick else 10_000_000
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        with Pylo.local_multithread(store, number_of_workers=2) as pylo:
            eid = pylo.start_from_scratch(range(n), identity, progress=False)
        lists, _ = _state_growth(n, "lists", store, eid)
        got, t_state = _state_growth(n, "get_state", store, eid)
        streamed, t_iter = _state_growth(n, "iter", store, eid)
    return [
        {"id": "state", "what": f"get_state of {n:,} finished inputs, local store: client peak RSS growth, time",
         "figure": f"{got / n:.0f} B an input, {t_state:.1f} s", "peer": f"the two lists alone {lists / n:.0f} B an input",
         "ratio": f"{got / max(lists, 1):.2f}×", "target": "≤ 2×", "met": got <= 2 * lists},
        {"id": "state", "what": "the same streamed (iter_finished, iter_unfinished)",
         "figure": f"{streamed / 2**20:.0f} MB, {t_iter:.1f} s", "peer": f"get_state {got / 2**20:.0f} MB"},
    ]


ROWS = [results_bag, state]
