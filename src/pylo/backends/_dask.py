"""Runs the worker chains on Dask: the only module that imports ``distributed``.

    client ── per worker: future(b0) → future(b1) → …   each future: run_block on a Dask worker,
       ▲          (the tally, i.e. the budget, flows       which reads inputs/{block} and writes
       │           along the chain as the dependency)      its own segments to the store
       └──── progress: worker.log_event(topic) ──► client.subscribe_topic ──► Run.on_delta

A block whose Dask worker dies is rerun by Dask and skips what its segments say concluded. A block
that kills workers too often (``KilledWorker``) is recorded as lost: its inputs stay pending, and
the rest of its chain is resubmitted after it. Cancel is a marker object in the store, seen by
running blocks between inputs and by every block before it starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Callable

import cloudpickle
from distributed import Client, Future, LocalCluster, as_completed, get_worker
from distributed.scheduler import KilledWorker

from .._core.block import BlockContext, Delta, finish_worker, run_block, worker_blocks
from .._core.decide import WorkerTally
from .._core.run import Run
from . import OnEnd, end_run
from ..errors import InvalidArgument, PyloError, TaskNotSerializable
from ..store import BlockInfo, Manifest, Store

if TYPE_CHECKING:
    from dask.typing import Key

__all__ = ["DaskBackend", "block_key", "local_client", "new_local_cluster"]

log = logging.getLogger(__name__)

# How often a running block looks for the cancel marker in the store (seconds).
CANCEL_POLL = 0.5


def block_key(eid: str, block: int, generation: int = 0) -> str:
    """The Dask key of a block's future: deterministic, so another client can find it."""
    suffix = f"-r{generation}" if generation else ""
    return f"pylo-{eid}-block-{block:06d}{suffix}"


def _topic(eid: str) -> str:
    return f"pylo-progress-{eid}"


class DaskBackend:
    """Worker chains as chains of Dask futures on ``client``'s cluster."""

    def __init__(self, client: Client | str | None = None, *, n_workers: int | None = None) -> None:
        self._owned: list[Any] = []
        if client is None:
            cluster = new_local_cluster(n_workers)
            client = Client(cluster)
            self._owned = [client, cluster]
        elif isinstance(client, str):
            client = Client(client)
            self._owned = [client]
        elif not isinstance(client, Client):
            raise InvalidArgument(f"client must be a distributed.Client, an address or None, got {client!r}")
        if client.asynchronous:
            raise InvalidArgument("an asynchronous Client is not supported yet; pass a synchronous one")
        self.client = client

    @property
    def dashboard_link(self) -> str | None:
        try:
            return str(self.client.dashboard_link)
        except Exception:  # noqa: BLE001 - no dashboard (bokeh missing): no link
            return None

    def default_workers(self) -> int:
        threads: dict[str, int] = self.client.nthreads()
        return max(1, sum(threads.values()))

    def check(self, store: Store, task: Callable[[Any], object]) -> None:
        try:
            cloudpickle.dumps(task)
        except Exception as exc:  # anything pickling raises means Dask cannot ship the task
            raise TaskNotSerializable(f"the task cannot be pickled for Dask: {exc!r}") from exc
        if store.files.protocol == "memory":
            pids = self.client.run(os.getpid)
            if any(pid != os.getpid() for pid in pids.values()):
                raise InvalidArgument(
                    "a memory:// store lives in this process only; Dask workers in other processes "
                    "cannot reach it. Use a local path or an object store."
                )

    def launch(
        self, ctx: BlockContext, manifest: Manifest, run: Run, on_end: OnEnd = lambda error: None
    ) -> None:
        _Driver(self.client, ctx, manifest, run, on_end).start()

    def close(self) -> None:
        for owned in self._owned:
            owned.close()
        self._owned = []


def new_local_cluster(n_workers: int | None = None) -> LocalCluster:
    """A LocalCluster of worker processes, one thread each (``min(4, CPUs)`` by default)."""
    return LocalCluster(
        n_workers=n_workers or min(4, os.cpu_count() or 1),
        threads_per_worker=1,
        processes=True,
        dashboard_address=_dashboard_address(),
    )


@contextlib.contextmanager
def local_client(n_workers: int | None = None) -> Iterator[Client]:
    """A client on a new local cluster, both closed on exit (the CLI's and the demo's default)."""
    with new_local_cluster(n_workers) as cluster, Client(cluster) as client:
        yield client


def _dashboard_address() -> str | None:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return None
    return "127.0.0.1:0"


class _Driver:
    """Submits the chains, follows their futures, resubmits after a lost block, settles the run."""

    def __init__(
        self, client: Client, ctx: BlockContext, manifest: Manifest, run: Run, on_end: OnEnd
    ) -> None:
        self.client, self.ctx, self.manifest, self.run = client, ctx, manifest, run
        self.on_end = on_end
        self.chains = worker_blocks(manifest)
        self.topic = _topic(manifest.id)
        self.futures: dict[Key, tuple[int, int]] = {}  # key -> (worker, generation)
        self.current: dict[int, list[Future[Any]]] = {}  # worker -> futures of its live generation
        self.start_of: dict[int, tuple[int, WorkerTally]] = {}  # worker -> (first index, tally)
        self.generation = dict.fromkeys(self.chains, 0)
        self.pending = as_completed(loop=client.loop)  # not the default client's loop

    def start(self) -> None:
        self.run.start()
        if not self.manifest.blocks:
            self._settle(None)
            return
        try:
            self.client.subscribe_topic(self.topic, self._on_event)
            for w in self.chains:
                self._submit(w, 0, WorkerTally(worker=w))
            threading.Thread(target=self._drive, name=f"pylo-{self.manifest.id}-driver", daemon=True).start()
        except BaseException as exc:  # the client failed us: drop the futures, end the run
            self.pending.clear()
            self.current.clear()
            self._settle(exc)
            raise

    def _submit(self, w: int, first: int, tally: WorkerTally) -> None:
        blocks, gen = self.chains[w], self.generation[w]
        self.start_of[w] = (first, tally)
        futures: list[Future[Any]] = []
        prev: Any = tally
        for idx in range(first, len(blocks)):
            info = blocks[idx]
            fut = self.client.submit(
                _dask_block, self.ctx, info, prev, idx == len(blocks) - 1,
                key=block_key(self.manifest.id, info.block, gen), pure=False,
            )
            self.futures[fut.key] = (w, gen)
            self.pending.add(fut)
            futures.append(fut)
            prev = fut
        self.current[w] = futures

    def _drive(self) -> None:
        """Follow every block future to its end. After a block fails the others are asked to stop,
        and the run settles (its claims released) only once none of its blocks runs any more."""
        error: BaseException | None = None
        try:
            for fut in self.pending:
                w, gen = self.futures.pop(fut.key)
                if gen != self.generation[w] or fut.status == "finished":
                    continue
                exc = fut.exception()
                if error is not None:
                    continue  # the run failed already: let the other blocks stop and end
                if isinstance(exc, KilledWorker):
                    self._lost(w)
                else:
                    error = exc if exc is not None else RuntimeError(f"block future {fut.key} was {fut.status}")
                    self._stop_others()
        except BaseException as exc:  # the client itself failed: hand it to whoever waits
            error = exc
        finally:
            self.client.unsubscribe_topic(self.topic)
            self.pending.clear()
            self.current.clear()
            self._settle(error)

    def _stop_others(self) -> None:
        """A block failed: ask the other chains to stop (a marker in the store, which may be the
        very thing that failed, so a store error here is logged and the block's error kept)."""
        try:
            self.run.cancel()
        except PyloError:
            log.exception("execution %s: could not ask the other blocks to stop", self.manifest.id)

    def _settle(self, error: BaseException | None) -> None:
        end_run(self.run, self.on_end, error)

    def _lost(self, w: int) -> None:
        """The first errored block of chain ``w`` killed its workers: its inputs stay pending;
        the blocks after it are resubmitted with the tally from the block before it."""
        futures = self.current[w]
        first, tally = self.start_of[w]
        k = next(i for i, f in enumerate(futures) if f.status == "error")
        if k > 0:
            tally = futures[k - 1].result()
        blocks = self.chains[w]
        lost = blocks[first + k]
        log.error("block %d of %s lost (KilledWorker); its inputs stay pending", lost.block, self.manifest.id)
        tally = dataclasses.replace(tally, lost_blocks=(*tally.lost_blocks, lost.block))
        self.generation[w] += 1
        if first + k == len(blocks) - 1:
            finish_worker(self.ctx, tally)
            self.current[w] = []
        else:
            self._submit(w, first + k + 1, tally)

    def _on_event(self, event: tuple[float, Any]) -> None:
        _, msg = event
        self.run.on_delta(Delta(**msg))


def _dask_block(ctx: BlockContext, info: BlockInfo, tally: WorkerTally, last: bool) -> WorkerTally:
    """One block, on a Dask worker."""
    worker = get_worker()
    topic = _topic(ctx.execution)
    stop = _StoreStop(ctx.store, ctx.execution)

    def report(delta: Delta) -> None:
        worker.log_event(topic, dataclasses.asdict(delta))

    tally = run_block(ctx, info, tally, stop=stop, report=report)
    if last:
        finish_worker(ctx, tally, cancelled=stop.stopped)
    return tally


class _StoreStop:
    """``stop()`` for a block on Dask: looks for the cancel marker at most every CANCEL_POLL s."""

    def __init__(self, store: Store, eid: str) -> None:
        self.store, self.eid = store, eid
        self.stopped = False
        self.next_check = 0.0

    def __call__(self) -> bool:
        if not self.stopped and (now := time.monotonic()) >= self.next_check:
            self.stopped = self.store.cancel_requested(self.eid)
            self.next_check = now + CANCEL_POLL
        return self.stopped
