"""The S3 store unreachable mid-run: a TCP proxy between s3fs and the moto server is cut and later
restored on the same port. Flushes retry with backoff; a short outage is ridden out, a long one
fails the run with ``StoreUnreachable``; either way nothing that was flushed is forgotten and a
resume finishes everything."""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

import fault_tasks
import tasks
from _support import Ledger, TcpProxy, reruns, wait_for
from pylo import ExecutionStatus, Pylo, Status, StoreUnreachable
from pylo._core.background_writes import BackgroundWrites
from pylo._core.block import COALESCE_WINDOWS

pytestmark = pytest.mark.slow

FLUSH = 3
CHAINS = 2


def _flushes_in_flight() -> int:
    """How many flushes the block loop keeps in flight on an object store, read off a real block
    run (not the default of ``BackgroundWrites``, which the block loop does not use)."""
    from pylo import Config
    from pylo._core.block import BlockContext, _BlockRun
    from pylo._core.decide import WorkerTally
    from pylo.store import BlockInfo, Store

    ctx = BlockContext(Store("memory://outage-bound"), "20261125T162126123456Z-1a2b3c4d", tasks.noop, Config())
    block = _BlockRun(ctx, BlockInfo(0, 0, 1, 0), WorkerTally(0), lambda: False, lambda d: None)
    assert isinstance(block.writes, BackgroundWrites) and block.writes.threads == 1
    return block.writes.depth


WRITES_IN_FLIGHT = _flushes_in_flight()
# Flushes also gather behind the one in flight for up to COALESCE_WINDOWS
# windows (see "What may run twice" in docs/reliability.md).
OBJECT_STORE_WINDOWS = WRITES_IN_FLIGHT + 1 + COALESCE_WINDOWS
GATES = (14, 24)  # block 1 (chain 1) and block 2 (chain 0), with block_size 10


class _Retries(logging.Handler):
    """Counts the store's retry warnings; ``reached`` is set after ``wanted`` of them."""

    def __init__(self, wanted: int) -> None:
        super().__init__(logging.WARNING)
        self.wanted, self.seen = wanted, 0
        self.reached = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "retry" in record.getMessage():
            self.seen += 1
            if self.seen >= self.wanted:
                self.reached.set()


@pytest.fixture
def retries() -> Any:
    handler = _Retries(wanted=3)
    logger = logging.getLogger("pylo.store._fs")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def _pylo(moto_server: Any, proxy: TcpProxy) -> tuple[Pylo, str, dict[str, Any]]:
    options = {
        "key": "testing", "secret": "testing",
        "client_kwargs": {"endpoint_url": proxy.endpoint, "region_name": "us-east-1"},
        # fail fast on a cut connection; pylo's own retries (with backoff) do the waiting
        "config_kwargs": {"connect_timeout": 1, "read_timeout": 5, "retries": {"max_attempts": 1}},
    }
    url = f"s3://{moto_server.new_bucket()}/store"
    pylo = Pylo.local_multithread(url, number_of_workers=CHAINS, storage_options=options, block_size=10,
                                  task_executions_before_flush=FLUSH, flush_interval=60.0)
    return pylo, url, options


def _start(pylo: Pylo, tmp_path: Path) -> tuple[Any, Path, Path]:
    calls, gates = tmp_path / "calls", tmp_path / "gates"
    calls.mkdir(), gates.mkdir()
    run = pylo.submit(range(40), functools.partial(fault_tasks.gated, str(calls), str(gates), GATES))
    for x in GATES:  # both chains wait at a gate: the outage starts at a known point
        wait_for(lambda x=x: (gates / f"gate-{x}").exists(), f"gate {x}")
    return run, calls, gates


def _open_gates(gates: Path) -> None:
    for x in GATES:
        (gates / f"open-{x}").touch()


def _says_interrupted(pylo: Pylo, run: Any) -> None:
    """The run, the summary and ``pylo status`` say the run was interrupted, never "cancelled":
    nobody asked it to stop."""
    assert run.status is Status.FAILED and run.reason == "store unreachable: interrupted, resumable"
    summary = pylo.summary(run.id)
    assert summary.status is ExecutionStatus.INTERRUPTED and not summary.running, summary
    assert "interrupted, resumable" in (summary.reason or ""), summary
    assert str(summary).splitlines()[0].startswith(f"execution {run.id}: interrupted (")
    # The client records why once the store is back, and from then on every reader says it.
    wait_for(lambda: pylo.summary(run.id).stopped == "store unreachable", "the record of the interruption")
    assert pylo.summary(run.id).reason == "store unreachable: interrupted, resumable"


def test_a_short_outage_is_ridden_out(moto_server: Any, s3_proxy: TcpProxy, tmp_path: Path,
                                       retries: _Retries, ledger: Ledger) -> None:
    pylo, _, _ = _pylo(moto_server, s3_proxy)
    run, calls, gates = _start(pylo, tmp_path)
    s3_proxy.stop()
    _open_gates(gates)
    assert retries.reached.wait(60), "the workers never retried a flush"
    s3_proxy.start()  # the same port: the store is back
    assert run.wait(timeout=60) == run.id
    assert pylo.get_state(run.id) == (list(range(40)), [])
    assert reruns(calls) == {}  # nothing was lost, so nothing ran twice
    ledger.record("store unreachable for a while", lost=0, rerun=0, bound=0)


def test_a_long_outage_fails_clearly_and_a_resume_finishes(moto_server: Any, s3_proxy: TcpProxy,
                                                           tmp_path: Path, ledger: Ledger) -> None:
    pylo, url, options = _pylo(moto_server, s3_proxy)
    run, calls, gates = _start(pylo, tmp_path)
    flushed, _ = pylo.get_state(run.id)  # what the store holds as finished before the outage
    s3_proxy.stop()
    _open_gates(gates)
    with pytest.raises(StoreUnreachable, match="store 's3://"):
        run.wait(timeout=90)
    s3_proxy.start()
    _says_interrupted(pylo, run)
    finished, unfinished = pylo.get_state(run.id)
    assert set(flushed) <= set(finished) and unfinished  # nothing flushed is forgotten
    resumed = pylo.start_from_past_execution(run.id, functools.partial(tasks.log_call, str(calls)))
    finished, unfinished = pylo.get_state(resumed)
    assert (finished, unfinished) == (list(range(40)), [])
    twice = reruns(calls)
    # Per chain: the flush in flight when the store went away, the windows gathered behind it,
    # and the window being run (see "What may run twice" in docs/reliability.md).
    bound = CHAINS * FLUSH * OBJECT_STORE_WINDOWS
    assert len(twice) <= bound and all(n == 2 for n in twice.values()), twice
    ledger.record("store unreachable past the retries", lost=40 - len(finished), rerun=len(twice), bound=bound)


def test_a_long_outage_on_dask_fails_clearly_and_a_resume_finishes(
    moto_server: Any, s3_proxy: TcpProxy, dask_client: Any, tmp_path: Path, ledger: Ledger
) -> None:
    # The Dask workers write the segments: a block whose flush cannot reach the store fails with
    # StoreUnreachable, which reaches the client; the driver's cancel marker cannot be written
    # either, and that second failure is logged without hiding the first.
    _, url, options = _pylo(moto_server, s3_proxy)
    pylo = Pylo.dask(dask_client, url, storage_options=options, number_of_workers=CHAINS, block_size=10,
                     task_executions_before_flush=FLUSH, flush_interval=60.0)
    run, calls, gates = _start(pylo, tmp_path)
    flushed, _ = pylo.get_state(run.id)
    s3_proxy.stop()
    _open_gates(gates)
    with pytest.raises(StoreUnreachable, match="store 's3://"):
        run.wait(timeout=90)
    s3_proxy.start()
    _says_interrupted(pylo, run)
    finished, unfinished = pylo.get_state(run.id)
    assert set(flushed) <= set(finished) and unfinished
    resumed = pylo.start_from_past_execution(run.id, functools.partial(tasks.log_call, str(calls)), progress=False)
    finished, unfinished = pylo.get_state(resumed)
    assert (finished, unfinished) == (list(range(40)), [])
    twice = reruns(calls)
    bound = CHAINS * FLUSH * OBJECT_STORE_WINDOWS
    assert len(twice) <= bound, twice
    ledger.record("store unreachable past the retries, on Dask", lost=40 - len(finished), rerun=len(twice), bound=bound)
