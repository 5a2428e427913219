"""The core benchmarks: each row runs pylo and its peers in the same run, on the same
cluster and inputs, and returns figures and ratios. ``quick`` shrinks every size."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from _support import best_of, local_cluster, moto_s3, noop, run_batch

from pylo import Pylo

BLOCK = 10_000


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} inputs/s"


def _blocks(n: int) -> list[list[int]]:
    return [list(range(i, min(n, i + BLOCK))) for i in range(0, n, BLOCK)]


def throughput(quick: bool) -> list[dict[str, Any]]:
    n = 100_000 if quick else 1_000_000
    repeat = 1 if quick else 3
    with local_cluster(2) as client, tempfile.TemporaryDirectory() as tmp:
        pylo = Pylo.dask(client, f"{tmp}/store")
        t_pylo, _ = best_of(lambda: pylo.start_from_scratch(range(n), noop), repeat)
        blocks = _blocks(n)
        t_hand, _ = best_of(lambda: client.gather(client.map(run_batch, blocks, pure=False)), repeat)
        one = 2_000 if quick else 5_000
        t_one, _ = best_of(lambda: client.gather(client.map(noop, range(one), pure=False)), 1)
        import dask.bag as db

        t_bag, _ = best_of(
            lambda: db.from_sequence(range(n), npartitions=len(blocks)).map(noop).count().compute(), repeat
        )
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        t_tpe, _ = best_of(lambda: list(pool.map(noop, range(n))), 1)
    r_pylo = n / t_pylo
    return [
        {"id": "throughput", "what": f"Pylo.dask, {n:,} no-op inputs, 2 procs × 1 thread, local store",
         "figure": _rate(n, t_pylo), "peer": f"hand-batched client.map {_rate(n, t_hand)}",
         "ratio": f"{t_hand / t_pylo:.2f}×", "target": "≥ 0.9×", "met": t_hand / t_pylo >= 0.9,
         "value": r_pylo},
        {"id": "throughput", "what": "vs one future per input", "figure": _rate(n, t_pylo),
         "peer": f"client.map per input ({one:,}) {_rate(one, t_one)}", "ratio": f"{r_pylo / (one / t_one):.0f}×",
         "target": "≥ 100×", "met": r_pylo / (one / t_one) >= 100},
        {"id": "throughput", "what": "vs dask.bag.map", "figure": _rate(n, t_pylo),
         "peer": f"dask.bag {_rate(n, t_bag)}", "ratio": f"{t_bag / t_pylo:.2f}×"},
        {"id": "throughput", "what": "vs ThreadPoolExecutor.map (2 threads)", "figure": _rate(n, t_pylo),
         "peer": f"ThreadPoolExecutor {_rate(n, t_tpe)}", "ratio": f"{t_tpe / t_pylo:.2f}×"},
    ]


def _original_pylo(inputs: list[int], workers: int) -> None:
    """The original pylo's worker loop: a per-worker list consumed with pop(0)."""

    def work(queue: list[int]) -> None:
        finished = []
        while queue:
            x = queue.pop(0)
            noop(x)
            finished.append(x)

    threads = [threading.Thread(target=work, args=(inputs[w::workers],)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def threads(quick: bool) -> list[dict[str, Any]]:
    n = 100_000 if quick else 1_000_000
    repeat = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        pylo = Pylo.local_multithread(f"{tmp}/store", number_of_workers=2)
        t_pylo, _ = best_of(lambda: pylo.start_from_scratch(range(n), noop), repeat)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            t_tpe, _ = best_of(lambda: list(pool.map(noop, range(n))), repeat)
        m = 50_000 if quick else 200_000
        t_pylo_m, _ = best_of(lambda: pylo.start_from_scratch(range(m), noop), 1)
        t_orig, _ = best_of(lambda: _original_pylo(list(range(m)), 2), 1)
    return [
        {"id": "threads", "what": f"Pylo.local_multithread, {n:,} no-op inputs, 2 workers", "figure": _rate(n, t_pylo),
         "peer": f"ThreadPoolExecutor.map {_rate(n, t_tpe)}", "ratio": f"{t_tpe / t_pylo:.2f}×",
         "target": "≥ 0.5×", "met": t_tpe / t_pylo >= 0.5},
        {"id": "threads", "what": f"vs the original pylo (pop(0)), {m:,} inputs", "figure": _rate(m, t_pylo_m),
         "peer": f"original pylo {_rate(m, t_orig)}", "ratio": f"{t_orig / t_pylo_m:.1f}×"},
    ]


def identity(x: Any) -> Any:
    return x


def results(quick: bool) -> list[dict[str, Any]]:
    """What keeping return values costs (a pickle and its check per value), and reading them back."""
    n = 100_000 if quick else 1_000_000
    repeat = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        plain = Pylo.local_multithread(f"{tmp}/plain", number_of_workers=2)
        keeping = Pylo.local_multithread(f"{tmp}/kept", number_of_workers=2, store_results=True)
        t_plain, _ = best_of(lambda: plain.start_from_scratch(range(n), identity, progress=False), repeat)
        t_kept, _ = best_of(lambda: keeping.start_from_scratch(range(n), identity, progress=False), repeat)
        eid = keeping.executions()[-1]
        t_read, _ = best_of(lambda: sum(1 for _ in keeping.get_results(eid)), 1)
    return [
        {"id": "results", "what": f"store_results=True, {n:,} inputs returning an int, threads", "figure": _rate(n, t_kept),
         "peer": f"without results {_rate(n, t_plain)}", "ratio": f"{t_plain / t_kept:.2f}×"},
        {"id": "results", "what": f"get_results of those {n:,}", "figure": _rate(n, t_read)},
    ]


def _checkpointing_batch(url: str, options: dict[str, Any], index: int, xs: list[Any]) -> int:
    """The hand-rolled checkpointing peer: the task over one chunk, then one marker PUT."""
    import fsspec

    for x in xs:
        noop(x)
    fs, path = fsspec.core.url_to_fs(url, **options)
    fs.pipe(f"{path}/done/{index:06d}", b"1")
    return len(xs)


def s3(quick: bool) -> list[dict[str, Any]]:
    n = 100_000 if quick else 1_000_000
    repeat = 1 if quick else 3
    with local_cluster(2) as client, tempfile.TemporaryDirectory() as tmp, moto_s3() as (url, options):
        local = Pylo.dask(client, f"{tmp}/store")
        remote = Pylo.dask(client, url, storage_options=options)
        t_local, _ = best_of(lambda: local.start_from_scratch(range(n), noop, progress=False), repeat)
        t_s3, _ = best_of(lambda: remote.start_from_scratch(range(n), noop, progress=False), repeat)
        blocks = _blocks(n)
        peer = functools.partial(_checkpointing_batch, url.replace("/store", "/peer"), options)
        t_peer, _ = best_of(lambda: client.gather(client.map(peer, range(len(blocks)), blocks, pure=False)), repeat)
    return [
        {"id": "s3", "what": f"Pylo.dask, {n:,} inputs, store on a moto S3 server over HTTP", "figure": _rate(n, t_s3),
         "peer": f"checkpointing client.map (one PUT per chunk) {_rate(n, t_peer)}", "ratio": f"{t_peer / t_s3:.2f}×",
         "target": "≥ 0.8×", "met": t_peer / t_s3 >= 0.8},
        {"id": "s3", "what": "the same, vs a local store", "figure": _rate(n, t_s3),
         "peer": f"local store {_rate(n, t_local)}", "ratio": f"{t_local / t_s3:.2f}×"},
    ]


def _scheduler_rss(dask_scheduler: Any) -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _scheduler_cpu(dask_scheduler: Any) -> float:
    import psutil

    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


def scheduler(quick: bool) -> list[dict[str, Any]]:
    """The scheduler's cost: CPU per 10^6 inputs, and its memory with a 2 MB task closure."""
    from distributed import Client

    n = 50_000 if quick else 1_000_000
    blob = os.urandom(2 * 1024 * 1024)
    task = functools.partial(_with_closure, blob)
    with _external_scheduler() as address, Client(address) as client, tempfile.TemporaryDirectory() as tmp:
        client.wait_for_workers(2)
        pylo = Pylo.dask(client, f"{tmp}/store", block_size=1_000)
        rss0, cpu0 = client.run_on_scheduler(_scheduler_rss), client.run_on_scheduler(_scheduler_cpu)
        t, _ = best_of(lambda: pylo.start_from_scratch(range(n), task, progress=False), 1)
        rss1, cpu1 = client.run_on_scheduler(_scheduler_rss), client.run_on_scheduler(_scheduler_cpu)
    blocks = n // 1_000
    return [
        {"id": "scheduler", "what": f"scheduler CPU, {n:,} inputs in {blocks:,} blocks",
         "figure": f"{(cpu1 - cpu0) / n * 1e6:.2f} s per 10^6 inputs", "peer": "—", "ratio": "—", "target": "report"},
        {"id": "scheduler", "what": f"scheduler RSS growth, 2 MB task closure over {blocks:,} blocks",
         "figure": f"{(rss1 - rss0) / 2**20:.0f} MB", "peer": f"run took {t:.1f} s", "ratio": "—",
         "target": "independent of the closure"},
    ]


def _with_closure(blob: bytes, x: Any) -> None:
    pass


@contextlib.contextmanager
def _external_scheduler() -> Any:
    """A ``dask scheduler`` and 2 ``dask worker`` processes, so the scheduler is measured alone."""
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        file = os.path.join(tmp, "scheduler.json")
        dask_cli = os.path.join(os.path.dirname(sys.executable), "dask")
        here = os.path.dirname(os.path.abspath(__file__))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
        procs.append(subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                       "--scheduler-file", file], stderr=subprocess.DEVNULL, start_new_session=True,
                                      env=env))
        try:
            deadline = time.monotonic() + 60
            while not (os.path.exists(file) and open(file).read()):
                if time.monotonic() > deadline:
                    raise RuntimeError("the scheduler did not start")
                time.sleep(0.1)
            procs.append(subprocess.Popen([dask_cli, "worker", "--scheduler-file", file, "--nworkers", "2",
                                           "--nthreads", "1", "--no-dashboard"], stderr=subprocess.DEVNULL,
                                          start_new_session=True, env=env))
            yield json.load(open(file))["address"]
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(30)


def ten_million(quick: bool) -> list[dict[str, Any]]:
    """10^7 no-op inputs in one execution (10^6 with ``quick``): time, client and scheduler peak RSS."""
    import psutil

    n = 200_000 if quick else 10_000_000
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        me = psutil.Process()
        while not stop.wait(0.05):
            peak[0] = max(peak[0], me.memory_info().rss)

    with _external_scheduler() as address, Client_(address) as client, tempfile.TemporaryDirectory() as tmp:
        client.wait_for_workers(2)
        pylo = Pylo.dask(client, f"{tmp}/store")
        sched0 = client.run_on_scheduler(_scheduler_rss)
        base = psutil.Process().memory_info().rss
        peak[0] = base
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t, _ = best_of(lambda: pylo.start_from_scratch(range(n), noop, progress=False), 1)
        stop.set()
        sched1 = client.run_on_scheduler(_scheduler_rss)
    return [
        {"id": "ten_million", "what": f"{n:,} no-op inputs in one execution, 2 procs, local store",
         "figure": f"{t:.1f} s ({_rate(n, t)})",
         "peer": f"client peak RSS growth {(peak[0] - base) / 2**20:.0f} MB, scheduler RSS {sched1 / 2**20:.0f} MB "
                 f"(+{(sched1 - sched0) / 2**20:.0f})", "ratio": "—", "target": "report"},
    ]


def Client_(address: str) -> Any:  # noqa: N802 - a deferred import of distributed's Client
    from distributed import Client

    return Client(address)


def flush(quick: bool) -> list[dict[str, Any]]:
    n = 5_000 if quick else 20_000
    with local_cluster(2) as client, tempfile.TemporaryDirectory() as tmp:
        default = Pylo.dask(client, f"{tmp}/a")
        every = Pylo.dask(client, f"{tmp}/b", task_executions_before_flush=1)
        t_default, _ = best_of(lambda: default.start_from_scratch(range(n), noop), 1)
        t_every, _ = best_of(lambda: every.start_from_scratch(range(n), noop), 1)
    per_flush_us = (t_every - t_default) / n * 1e6
    return [
        {"id": "flush", "what": f"task_executions_before_flush=1, {n:,} inputs", "figure": _rate(n, t_every),
         "peer": f"default (1000) {_rate(n, t_default)}", "ratio": f"{t_default / t_every:.3f}×",
         "target": "report the cost", "met": f"{per_flush_us:.0f} µs per flush"},
    ]


def fsync(quick: bool) -> list[dict[str, Any]]:
    """What durable local writes cost: each object's file and directory are fsynced. Measured on
    the objects themselves (segment-sized writes) and on a run that flushes after every input."""
    from pylo.store._fs import Files

    n = 500 if quick else 2_000
    inputs = 2_000 if quick else 10_000
    blob = b'{"format":1,"block":0,"finished":[[0,1000]],"failed":[],"retried":[]}'
    with tempfile.TemporaryDirectory() as tmp:
        times = {}
        for durable in (True, False):
            files = Files(f"{tmp}/{durable}", durable=durable)
            files.put(f"{files.root}/warm", blob)
            t0 = time.perf_counter()
            for i in range(n):
                files.put(f"{files.root}/obj-{i:06d}", blob)
            times[durable] = (time.perf_counter() - t0) / n

        runs, default = {}, {}
        big = 200_000 if quick else 1_000_000
        for durable in (True, False):
            pylo = Pylo.local_multithread(f"{tmp}/run-{durable}", number_of_workers=2, task_executions_before_flush=1)
            pylo.store.files.durable = durable
            runs[durable], _ = best_of(lambda: pylo.start_from_scratch(range(inputs), noop, progress=False), 1)
            pylo = Pylo.local_multithread(f"{tmp}/default-{durable}", number_of_workers=2)
            pylo.store.files.durable = durable
            default[durable], _ = best_of(lambda: pylo.start_from_scratch(range(big), noop, progress=False), 1 if quick else 3)
    return [
        {"id": "fsync", "what": f"one local write, file + directory fsynced ({n:,} writes)",
         "figure": f"{times[True] * 1e6:,.0f} µs", "peer": f"without fsync {times[False] * 1e6:,.0f} µs",
         "ratio": f"{times[True] / times[False]:.2f}× the time", "target": "report the cost", "met": "—"},
        {"id": "fsync", "what": f"Pylo.local_multithread, a flush after every input ({inputs:,} inputs)",
         "figure": _rate(inputs, runs[True]), "peer": f"without fsync {_rate(inputs, runs[False])}",
         "ratio": f"{runs[False] / runs[True]:.2f}×", "target": "report the cost", "met": "—"},
        {"id": "fsync", "what": f"Pylo.local_multithread, default flush (1000), {big:,} no-op inputs",
         "figure": _rate(big, default[True]), "peer": f"without fsync {_rate(big, default[False])}",
         "ratio": f"{default[False] / default[True]:.2f}×", "target": "report the cost", "met": "—"},
    ]


def first_call(path: str, x: Any) -> None:
    """Records the wall time of the first call (any process on this machine)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, repr(time.time()).encode())
    os.close(fd)


def fail_one_percent(x: int) -> None:
    if x % 100 == 0:
        raise ValueError(x)


def resume(quick: bool) -> list[dict[str, Any]]:
    n = 100_000 if quick else 1_000_000
    with local_cluster(2) as client, tempfile.TemporaryDirectory() as tmp:
        pylo = Pylo.dask(client, f"{tmp}/store")
        eid = pylo.start_from_scratch(range(n), fail_one_percent)
        marker = f"{tmp}/first-call"
        t0 = time.time()
        new = pylo.start_from_past_execution(eid, functools.partial(first_call, marker))
        with open(marker) as fh:
            to_first = float(fh.read()) - t0
        t_state, _ = best_of(lambda: pylo.get_state(new), 1)
    return [
        {"id": "resume", "what": f"{n:,} inputs, 1 % failed: start_from_past_execution → first task",
         "figure": f"{to_first:.2f} s", "target": "≤ 2 s", "met": to_first <= 2.0},
        {"id": "resume", "what": f"get_state of the resumed execution ({n:,} inputs)", "figure": f"{t_state:.2f} s",
         "target": "≤ 2 s", "met": t_state <= 2.0},
    ]


_MEMORY_SCRIPT = """
import json, sys, tempfile, threading
sys.path.insert(0, {here!r})
import psutil
from _support import local_cluster, noop
n = {n}
mode = {mode!r}
proc = psutil.Process()
peak = [0]
done = threading.Event()
def sample():   # the peak RSS of this (client) process while the measured call runs
    while not done.wait(0.002):
        peak[0] = max(peak[0], proc.memory_info().rss)
with local_cluster(2) as client, tempfile.TemporaryDirectory() as tmp:
    from pylo import Pylo
    pylo = Pylo.dask(client, tmp + "/store")
    pylo.start_from_scratch(range(1000), noop)   # warm: imports and first allocations done
    before = proc.memory_info().rss
    sampler = threading.Thread(target=sample)
    sampler.start()
    if mode == "pylo":
        pylo.start_from_scratch((i for i in range(n)), noop)
    else:
        data = list(range(n))
    done.set()
    sampler.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
print(json.dumps({{"growth": peak[0] - before}}))
"""


def _peak_growth(n: int, mode: str) -> int:
    script = _MEMORY_SCRIPT.format(here=os.path.dirname(os.path.abspath(__file__)), n=n, mode=mode)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return int(json.loads(out.stdout.strip().splitlines()[-1])["growth"])


def memory(quick: bool) -> list[dict[str, Any]]:
    n = 200_000 if quick else 10_000_000
    pylo_growth = _peak_growth(n, "pylo")
    list_growth = _peak_growth(n, "list")
    mb = 1024 * 1024
    return [
        {"id": "memory", "what": f"{n:,} inputs from a generator: client peak RSS growth",
         "figure": f"{pylo_growth / mb:.0f} MB", "peer": f"list(range({n:,})) {list_growth / mb:.0f} MB",
         "ratio": f"{pylo_growth / max(list_growth, 1):.2f}×", "target": "≤ 150 MB", "met": pylo_growth <= 150 * mb},
    ]


_BAG_SCRIPT = """
import json, sys, tempfile, threading
sys.path.insert(0, {here!r})
import psutil
import dask.bag as db
from _support import local_cluster, noop
n, mode = {n}, {mode!r}
def strings(numbers):   # built on the workers: 200-byte strings
    return ["%0200d" % i for i in numbers]
proc = psutil.Process()
peak = [0]
done = threading.Event()
def sample():
    while not done.wait(0.002):
        peak[0] = max(peak[0], proc.memory_info().rss)
with local_cluster(2) as client, tempfile.TemporaryDirectory() as tmp:
    from pylo import Pylo
    pylo = Pylo.dask(client, tmp + "/store")
    pylo.start_from_scratch(db.from_sequence(range(1000), npartitions=2).map_partitions(strings), noop)  # warm
    before = proc.memory_info().rss
    sampler = threading.Thread(target=sample)
    sampler.start()
    bag = db.range(n, npartitions=max(1, n // 10_000)).map_partitions(strings)  # nothing of n in the graph
    if mode == "bag":
        pylo.start_from_scratch(bag, noop, progress=False)
    elif mode == "generator":
        pylo.start_from_scratch(("%0200d" % i for i in range(n)), noop, progress=False)
    else:  # what a bag costs when it is pulled through the client
        pylo.start_from_scratch(bag.compute(), noop, progress=False)
    done.set()
    sampler.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
print(json.dumps({{"growth": peak[0] - before}}))
"""


def _bag_growth(n: int, mode: str) -> tuple[int, float]:
    script = _BAG_SCRIPT.format(here=os.path.dirname(os.path.abspath(__file__)), n=n, mode=mode)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return int(json.loads(out.stdout.strip().splitlines()[-1])["growth"]), time.perf_counter() - t0


def bag(quick: bool) -> list[dict[str, Any]]:
    """A dask bag of 200-byte strings as inputs: the client's peak RSS growth, against a generator
    of the same inputs and against pulling the bag through the client (bag.compute())."""
    n = 100_000 if quick else 1_000_000
    mb = 1024 * 1024
    bag_growth, t_bag = _bag_growth(n, "bag")
    gen_growth, t_gen = _bag_growth(n, "generator")
    pulled, t_pulled = _bag_growth(n, "pulled")
    return [
        {"id": "bag", "what": f"dask.bag of {n:,} × 200 B strings as inputs: client peak RSS growth",
         "figure": f"{bag_growth / mb:.0f} MB", "peer": f"generator {gen_growth / mb:.0f} MB",
         "ratio": f"{bag_growth / max(gen_growth, 1):.2f}×", "target": "≤ 100 MB", "met": bag_growth <= 100 * mb},
        {"id": "bag", "what": "vs the bag pulled through the client (bag.compute())",
         "figure": f"{bag_growth / mb:.0f} MB, {t_bag:.0f} s", "peer": f"{pulled / mb:.0f} MB, {t_pulled:.0f} s",
         "ratio": f"{pulled / max(bag_growth, 1):.1f}× less memory"},
    ]


def sleep_5ms(x: Any) -> None:
    time.sleep(0.005)


def io_bound(quick: bool) -> list[dict[str, Any]]:
    n = 2_000
    with local_cluster(2, threads=16) as client, tempfile.TemporaryDirectory() as tmp:
        pylo = Pylo.dask(client, f"{tmp}/store", number_of_workers=32)
        pylo.start_from_scratch(range(64), sleep_5ms)  # warm the 32 threads
        t_pylo, _ = best_of(lambda: pylo.start_from_scratch(range(n), sleep_5ms), 1 if quick else 3)
        blocks = [list(range(w, n, 32)) for w in range(32)]
        t_hand, _ = best_of(lambda: client.gather(client.map(sleep_batch, blocks, pure=False)), 1 if quick else 3)
    ideal = n * 0.005 / 32
    return [
        {"id": "io-bound", "what": f"{n:,} inputs sleeping 5 ms, 32 workers on 2 procs × 16 threads",
         "figure": f"{t_pylo:.3f} s", "peer": f"ideal {ideal:.3f} s", "ratio": f"{ideal / t_pylo:.2f}×",
         "target": "≥ 0.8× ideal", "met": ideal / t_pylo >= 0.8},
        {"id": "io-bound", "what": "the same, hand-batched client.map over 32 blocks", "figure": f"{t_hand:.3f} s",
         "peer": f"ideal {ideal:.3f} s", "ratio": f"{ideal / t_hand:.2f}×"},
    ]


def sleep_batch(xs: list[Any]) -> None:
    for x in xs:
        sleep_5ms(x)


ROWS = [throughput, threads, results, s3, scheduler, ten_million, flush, fsync, resume, memory, bag, io_bound]
