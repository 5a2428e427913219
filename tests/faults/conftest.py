"""Fixtures of the fault tests (dedicated Dask clusters they may kill workers of, S3 behind a
proxy they may cut) and the summary printed at the end of the session:

    faults survived N/N, bad inputs rejected M/M, inputs lost 0, largest re-run count X (bound Y)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import cloudpickle
import pytest

import fault_tasks
from _support import LEDGER, Ledger, TcpProxy

cloudpickle.register_pickle_by_value(fault_tasks)


@pytest.fixture
def ledger() -> Ledger:
    return LEDGER


@pytest.fixture
def make_cluster() -> Iterator[Callable[..., Any]]:
    """``make_cluster(n_workers=1, **dask_config)``: a client on a fresh LocalCluster with worker
    processes under nannies (a killed worker is restarted), closed at the end of the test."""
    import dask
    from distributed import Client, LocalCluster

    made: list[Any] = []

    def make(n_workers: int = 1, threads: int = 1, memory_limit: str = "auto", **config: Any) -> Any:
        with dask.config.set(config):
            cluster = LocalCluster(
                n_workers=n_workers, threads_per_worker=threads, processes=True, dashboard_address=None,
                memory_limit=memory_limit,
            )
        client = Client(cluster)
        made.extend([client, cluster])
        return client

    yield make
    for thing in made:
        thing.close()


@pytest.fixture
def s3_proxy(moto_server: Any) -> Iterator[TcpProxy]:
    """A TCP proxy in front of the session's moto server: cut it to make S3 unreachable."""
    proxy = TcpProxy(moto_server.port)
    proxy.start()
    yield proxy
    proxy.stop()


def _outcomes(stats: dict[str, list[Any]], prefix: str) -> tuple[int, int]:
    """(passed, run) among the tests whose node id starts with ``prefix``."""
    passed = run = 0
    for outcome in ("passed", "failed", "error"):
        for report in stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if not nodeid.startswith(prefix) or getattr(report, "when", "call") not in ("call", "setup"):
                continue
            if report.when == "setup" and outcome == "passed":
                continue  # a passed setup is followed by the call's own report
            run += 1
            passed += outcome == "passed"
    return passed, run


def pytest_terminal_summary(terminalreporter: Any) -> None:
    stats = terminalreporter.stats
    faults = _outcomes(stats, "tests/faults/")
    bad = _outcomes(stats, "tests/test_bad_input.py")
    if not (faults[1] or bad[1]):
        return
    worst = max(LEDGER.reruns, key=lambda r: r[1], default=("-", 0, 0))
    terminalreporter.write_sep("=", "fault summary")
    terminalreporter.write_line(
        f"faults survived {faults[0]}/{faults[1]}, bad inputs rejected {bad[0]}/{bad[1]}, "
        f"inputs lost {LEDGER.lost}, largest re-run count {worst[1]} (bound {worst[2]}, {worst[0]})"
    )
    for test, rerun, bound in LEDGER.reruns:
        terminalreporter.write_line(f"  {test}: {rerun} inputs re-run (bound {bound})")


@pytest.fixture
def external_cluster(tmp_path: Any) -> Iterator[Any]:
    """A ``dask scheduler`` and a ``dask worker`` (2 worker processes under nannies, 1 thread
    each), real processes that outlive any client; yields the scheduler's address, a ``str``
    with the scheduler's process as its ``scheduler`` attribute."""
    import json
    import os
    import subprocess
    import sys

    from _support import TESTS, kill_group, wait_for

    path = [str(TESTS), str(TESTS / "faults"), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    file = tmp_path / "scheduler.json"
    dask_cli = [os.path.join(os.path.dirname(sys.executable), "dask")]
    procs = [subprocess.Popen([*dask_cli, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(file)],
                              env=env, start_new_session=True, stderr=subprocess.DEVNULL)]
    try:
        wait_for(file.exists, "the scheduler file")
        address = wait_for(lambda: json.loads(file.read_text() or "{}").get("address"), "its address")
        procs.append(subprocess.Popen([*dask_cli, "worker", "--scheduler-file", str(file), "--nworkers", "2",
                                       "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                                      env=env, start_new_session=True, stderr=subprocess.DEVNULL))
        yield _Address(address, procs[0])
    finally:
        for proc in reversed(procs):
            kill_group(proc)


class _Address(str):
    """A scheduler address that also carries the scheduler's process (a test may kill it)."""

    scheduler: Any

    def __new__(cls, address: str, scheduler: Any) -> _Address:
        obj = super().__new__(cls, address)
        obj.scheduler = scheduler
        return obj
