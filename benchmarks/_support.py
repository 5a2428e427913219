"""Shared pieces of the benchmarks: timing, a moto S3 server, counts of store requests, a cluster, the table."""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any


def noop(x: Any) -> None:
    pass


def run_batch(xs: list[Any]) -> int:
    """The hand-batched peer: the task over one block, no bookkeeping at all."""
    for x in xs:
        noop(x)
    return len(xs)


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float]]:
    """Median wall time of ``repeat`` runs of ``fn`` (and all of them)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


@contextlib.contextmanager
def local_cluster(n_workers: int, threads: int = 1) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=n_workers, threads_per_worker=threads, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client


@contextlib.contextmanager
def moto_s3(env: dict[str, str] | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """A moto S3 server on 127.0.0.1 and a fresh bucket: (bucket URL, storage_options).
    ``env``: variables for the server process besides this one's (e.g. its request recorder)."""
    import boto3

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.05)
        bucket = f"bench-{uuid.uuid4().hex[:10]}"
        boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench",
        ).create_bucket(Bucket=bucket)
        options = {"key": "bench", "secret": "bench", "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}}
        yield f"s3://{bucket}/store", options
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def counting_moto_s3() -> Iterator[tuple[str, dict[str, Any], Callable[[], int]]]:
    """A moto S3 server in this process that counts the requests it answers, and a fresh bucket:
    (bucket URL, storage_options, the count so far)."""
    import threading

    import boto3
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    count = [0]

    def counting(environ: Any, start_response: Any) -> Any:
        count[0] += 1  # one += under the GIL per request: exact enough for hundreds of requests
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, counting, threaded=True)
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        bucket = f"bench-{uuid.uuid4().hex[:10]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                     aws_secret_access_key="bench").create_bucket(Bucket=bucket)
        options = {"key": "bench", "secret": "bench", "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}}
        yield f"s3://{bucket}/store", options, lambda: count[0]
    finally:
        server.shutdown()
        thread.join()


KINDS = (("/leases/client-", "client lease"), ("/leases/", "worker lease"), ("/progress/", "segment"),
         ("cancel.json", "cancel marker"), ("/inputs/", "inputs"), ("/claims/", "claim"), ("/taken", "take"),
         ("/workers/", "worker outcome"), ("/task", "task"), ("execution.json", "manifest"))


def kind_of(method: str, path: str) -> str:
    """A store request named by its method and the kind of object it touches: "PUT segment"."""
    for part, kind in KINDS:
        if part in path:
            return f"{method} {kind}"
    return f"{method} other"


@contextlib.contextmanager
def recording_moto(tmp: str) -> Iterator[tuple[str, dict[str, Any], ServerCount]]:
    """A moto S3 server that records the requests it answers into ``tmp``: (bucket URL, options,
    its count)."""
    recording = os.path.join(tmp, "recording.jsonl")
    with moto_s3(env={"MOTO_RECORDER_FILEPATH": recording}) as (url, options):
        yield url, options, ServerCount(options["client_kwargs"]["endpoint_url"], recording)


def _moto(endpoint: str, action: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/recorder/{action}", method="POST")).read()


class ServerCount:
    """What moto recorded between ``start`` and ``stop``, by method and kind of object: every
    process's requests, the Dask workers' included."""

    def __init__(self, endpoint: str, recording: str) -> None:
        self.endpoint, self.recording = endpoint, recording

    def start(self) -> None:
        _moto(self.endpoint, "reset-recording")
        _moto(self.endpoint, "start-recording")

    def stop(self) -> collections.Counter[str]:
        _moto(self.endpoint, "stop-recording")
        counts: collections.Counter[str] = collections.Counter()
        with open(self.recording) as fh:
            for line in fh:
                entry = json.loads(line)
                path = entry["url"].split("?", 1)
                query = path[1] if len(path) > 1 else ""
                if entry["method"] == "GET" and "list-type" in query:  # a listing names its prefix in the query
                    counts[kind_of("LIST", "/" + "".join(urllib.parse.parse_qs(query).get("prefix", [])))] += 1
                else:
                    counts[kind_of(entry["method"], path[0])] += 1
        return counts


_OPERATIONS = (("put", "PUT"), ("put_new", "PUT"), ("get", "GET"), ("exists", "HEAD"),
               ("find_sized", "LIST"), ("listdir", "LIST"))
_counted: collections.Counter[str] | None = None  # this process's count while one is on


def count_store_operations(on: bool) -> collections.Counter[str]:
    """Count pylo's store operations in this process, by method and kind, from now (``on``), or stop;
    returns those counted so far. Every store of the process counts, the copies that a Dask worker
    unpickles included: ``client.run(count_store_operations, on)`` counts on each worker."""
    global _counted
    from pylo.store._fs import Files

    if not hasattr(Files, "counted_by_benchmarks"):
        for name, method in _OPERATIONS:
            setattr(Files, name, _counting(getattr(Files, name), method))
        Files.counted_by_benchmarks = True  # type: ignore[attr-defined]
    counted = _counted or collections.Counter()
    _counted = collections.Counter() if on else None
    return counted


def _counting(original: Callable[..., Any], method: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def counted(self: Any, path: str, *args: Any, **kwargs: Any) -> Any:
        if _counted is not None:
            _counted[kind_of(method, path)] += 1  # one += under the GIL: exact enough for hundreds
        return original(self, path, *args, **kwargs)

    return counted


class PeakRss:
    """``with PeakRss() as peak: ...``, then ``peak.growth``: how far this process's resident
    memory rose above its level at the start of the block, sampled every 2 ms."""

    def __enter__(self) -> PeakRss:
        import threading

        import psutil

        self._proc = psutil.Process()
        self.before = self.peak = self._proc.memory_info().rss
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample)
        self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.002):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._sampler.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.before


def machine() -> str:
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def table(rows: list[dict[str, Any]]) -> str:
    """Rows of {id, what, figure, peer, ratio, target, met} as a Markdown table."""
    head = "| benchmark | what | figure | peer | ratio | target | met |\n|---|---|---|---|---|---|---|"
    lines = [head]
    for r in rows:
        lines.append(
            f"| {r['id']} | {r['what']} | {r['figure']} | {r.get('peer', '—')} | {r.get('ratio', '—')} | "
            f"{r.get('target', '—')} | {r.get('met', '—')} |"
        )
    return "\n".join(lines)
