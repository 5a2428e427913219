"""Runs the Pylo workers on Dask: the only module that imports ``distributed``.

    client: write {eid}/task once ─► per Pylo worker w: submit(_dask_worker, spawn, w)
              │                       fire_and_forget: the run outlives the client
              │   on a Dask worker: run_worker — takes the next unit nobody holds (a create-only
              │   object in the store), runs it, takes another … none left; lease renewed,
              │   cancel marker polled, one segment per flush
              ├── threads join the cluster ─► workers w+1… submitted (by the client, and by the
              │   steward in worker 0's task, which goes on when the client is gone)
              ▲
              └── progress: worker.log_event(topic) ──► subscribe_topic ──► Run.on_delta (deduplicated)
                  the end: every worker future settled and no lease of the run alive ──► Run.settle,
                  counts reconciled with the store

One Dask task per Pylo worker: the scheduler holds O(workers) small tasks, whatever the number of
blocks or the size of the task (it travels through the store, once). Which worker runs which
block is decided as they run: a free worker takes the next one, so Dask's threads stay busy to
the end of a skewed map, and workers for threads that join take blocks within seconds. When a
Dask worker dies, Dask reruns that one task elsewhere; it reads back the units it held and
continues the one that was running, from its last flush. A Dask worker that leaves (retired,
scaled down) would wait for its running task: its Pylo worker stops between inputs, flushes,
hands back the units it had not finished (whoever is free continues them), and its task goes back
to the scheduler (``Reschedule``): should every other worker have ended already, it takes them
itself on a worker that stays.
An input that kills its process: the rerun names each input of the block that was running in
the store before running it, so the input running at ``max_input_deaths`` deaths is recorded
failed (``WorkerDied``) and the rest runs (see ``_core.deaths``). ``KilledWorker`` never ends a
run: the task is resubmitted, and only a death that brought no progress (no input to blame) has
the running block recorded as lost (inputs pending). What the driver does when a worker's task
ends is decided by ``_driving.decide``; each ended task is released, so an ended execution
leaves nothing on the scheduler to recompute at a later death. The running block is the first
one not concluded in the store: a rerun waits for each block's flushes before the next block
starts so that this holds when it dies, and so does a first run when the scheduler's
``allowed-failures`` is 0 (its first death is then the last).
Cancel: Dask cancels what has not started; what runs is told through Dask by any client of the
cluster (``client.run``: seen after the running input), and by the store's cancel marker from
anywhere else (within ``cancel_poll``); it flushes and stops.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError
from typing import Any, Callable, TypeVar

import cloudpickle
from dask.base import annotate, get_annotations
from distributed import Client, Future, LocalCluster, Reschedule, as_completed, fire_and_forget, get_client, get_worker
from distributed.comm.core import CommClosedError
from distributed.core import Status as DaskStatus  # a Dask worker's; pylo's own Status is a run's
from distributed.scheduler import KilledWorker

from .._core.block import BlockContext, Delta, finish_worker
from .._core.config import Config
from .._core.chain import lease_name, run_worker
from .._core.decide import WorkerTally
from .._core.deaths import InputWatch, Running, exit_code_in, read_running
from ._driving import Action, Ended, TaskEnded, decide
from .._core.helper_threads import HelperThreads
from .._core.taking import Taker
from .._core.elastic import GROW_INTERVAL, STEWARD_INTERVAL, to_spawn
from .._core.run import Run
from ._dask_run import DaskRun
from .._core.summary import worker_chains
from . import OnEnd, end_run
from ..errors import ClusterLost, CorruptSnapshot, InvalidArgument, PyloError, StoreUnreachable, TaskNotSerializable
from ..store import BlockInfo, Manifest, Store
from ..store._layout import MAX_SMALL_BYTES
from ..store._leases import ended_here, is_worker_lease
from ..store._shared_calls import SharedCalls
from ..store._takes import read_takebook

__all__ = ["DaskBackend", "local_client", "new_local_cluster", "worker_key"]

log = logging.getLogger(__name__)

T = TypeVar("T")


#: Seconds ``default_workers`` waits for a first Dask worker on a cluster that has none.
WAIT_FOR_WORKERS = 60.0


def worker_key(eid: str, worker: int, generation: int = 0) -> str:
    """The Dask key of a Pylo worker's task: deterministic, so another client can find it."""
    suffix = f"-r{generation}" if generation else ""
    return f"pylo-{eid}-worker-{worker:04d}{suffix}"


def _topic(eid: str) -> str:
    return f"pylo-progress-{eid}"


class DaskBackend:
    """Pylo workers as long Dask tasks on ``client``'s cluster.

    ``resources`` / ``workers`` restrict where they run (as ``Client.submit``'s arguments), and
    the ``dask.annotate`` annotations active at ``launch`` apply to every submission of the run,
    resubmissions included."""

    def __init__(
        self,
        client: Client | str | None = None,
        *,
        n_workers: int | None = None,
        resources: dict[str, float] | None = None,
        workers: Sequence[str] | str | None = None,
    ) -> None:
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
        self.client = client
        self.resources = dict(resources) if resources else None
        self.workers = [workers] if isinstance(workers, str) else (list(workers) if workers else None)
        self._drivers: dict[str, _Driver] = {}
        self._allowed: int | None = None  # the scheduler's allowed-failures, once it said

    def allowed_failures(self) -> int | None:
        """The scheduler's allowed-failures, asked once (a round trip that every run paid before
        its workers were submitted); ``None`` while it has not answered."""
        if self._allowed is None:
            self._allowed = _allowed_failures(self.client)
        return self._allowed

    def _sync_here(self) -> None:
        """An asynchronous client answers with coroutines on its event loop's thread: blocking
        calls are made off the loop (the ``*_async`` methods run them on a helper thread)."""
        if self.client.asynchronous:
            raise InvalidArgument(
                "this Client is asynchronous and this is its event loop: use the awaitable methods "
                "(await pylo.submit_async(...), await pylo.get_state_async(...), ...)"
            )

    @property
    def dashboard_link(self) -> str | None:
        """Where Dask's dashboard serves this cluster's pages; ``None`` when it serves none."""
        try:
            link = self.client.dashboard_link
        # KeyError: a scheduler reached by address that serves no dashboard; OSError or a timeout:
        # the scheduler cannot be asked. A link is for show: neither is a reason to fail a run.
        except (KeyError, OSError, asyncio.TimeoutError):
            return None
        return str(link) if link else None

    def default_workers(self) -> int:
        """One Pylo worker per Dask thread. A cluster that has none yet (adaptive, starting at 0)
        is sized by its adaptive maximum when it says so, else waited for (a minute at most)."""
        self._sync_here()
        threads: dict[str, int] = self.client.nthreads()
        if not threads:
            adaptive = getattr(getattr(self.client, "cluster", None), "_adaptive", None)
            maximum = getattr(adaptive, "maximum", None)
            if isinstance(maximum, int) and maximum > 0:
                return maximum
            try:
                self.client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS)
            except asyncio.TimeoutError:  # still none: one Pylo worker, which waits for a Dask one
                log.warning("no Dask worker after %s s: planning one Pylo worker", WAIT_FOR_WORKERS)
            threads = self.client.nthreads()
        return max(1, sum(threads.values()))

    def check(self, store: Store, task: Callable[[Any], object]) -> None:
        self._sync_here()
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
        driver = _Driver(self, ctx, manifest, run, on_end)
        self._drivers[manifest.id] = driver
        driver.start()

    def cancel_queued(self, eid: str) -> None:
        """Cancel, through Dask, the worker tasks of ``eid`` that have not started (running ones
        see the store's cancel marker). Works from any client: the keys are deterministic."""
        driver = self._drivers.get(eid)
        if driver is not None:
            driver.cancel_queued()
        else:  # another client's run on this cluster: its running workers hear it through Dask too
            threading.Thread(target=_tell_workers, args=(self.client, eid), name=f"pylo-{eid}-cancel",
                             daemon=True).start()

    def close(self) -> None:
        for owned in self._owned:
            owned.close()
        self._owned = []

    def submit_workers(self, spawn: Spawn, workers: list[int], lost: dict[int, tuple[int, ...]],
                       generation: dict[int, int]) -> list[Future[Any]]:
        """The one place the driver hands Pylo workers to Dask: first submission, resubmissions
        and workers for threads that joined alike carry the same restrictions and annotations."""
        return spawn.submit(self.client, workers, lost, generation)


@dataclasses.dataclass(frozen=True)
class Spawn:
    """How a run's Pylo workers are handed to Dask, by the driver or, once its client is gone,
    by the steward in worker 0's task: everything travels with it, so both submit the same
    tasks under the same keys (Dask runs a key once, whoever submits it).

    All the workers of a submission go at once: one by one, 32 of them reached their Dask
    workers over ~70 ms. ``careful``: see ``run_worker``. ``cap``: an explicit number of workers
    (then the run does not follow its cluster)."""

    store: Store
    eid: str
    config: Config
    careful: bool = False
    cap: int | None = None
    resources: dict[str, float] | None = None
    restrict: list[str] | None = None
    annotations: dict[str, Any] = dataclasses.field(default_factory=dict)

    def submit(self, client: Client, workers: list[int], lost: dict[int, tuple[int, ...]] | None = None,
               generation: dict[int, int] | None = None) -> list[Future[Any]]:
        lost, generation = lost or {}, generation or {}
        with annotate(**self.annotations):
            futures: list[Future[Any]] = client.map(
                _dask_worker, [self] * len(workers), workers, [lost.get(w, ()) for w in workers],
                key=[worker_key(self.eid, w, generation.get(w, 0)) for w in workers], pure=False,
                resources=self.resources, workers=self.restrict,
            )
        fire_and_forget(futures)  # the run belongs to the store: it outlives this client
        return futures


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


# How long the end of a run waits for leases that stopped being renewed (their Dask workers died
# with a signal, say) beyond their own expiry.
_LEASE_SLACK = 1.0


class _Driver:
    """Submits the workers' tasks, follows them, starts workers for threads that join, resubmits
    after ``KilledWorker``, settles the run. What to do when a task ends is ``decide``'s; this
    class carries it out."""

    def __init__(self, backend: DaskBackend, ctx: BlockContext, manifest: Manifest, run: Run, on_end: OnEnd) -> None:
        self.backend, self.client = backend, backend.client
        self.ctx, self.manifest, self.run, self.on_end = ctx, manifest, run, on_end
        self.workers: list[int] = list(range(manifest.workers))
        self.topic = _topic(manifest.id)
        self.spawn = Spawn(ctx.store, manifest.id, ctx.config, cap=ctx.config.number_of_workers,
                           resources=backend.resources, restrict=backend.workers,
                           annotations=dict(get_annotations()))
        self.generation = dict.fromkeys(self.workers, 0)
        self.lost: dict[int, tuple[int, ...]] = dict.fromkeys(self.workers, ())
        self.futures: dict[str, tuple[int, int]] = {}  # key -> (worker, generation)
        self.live: dict[int, Future[Any]] = {}
        self.counts: dict[int, dict[str, int]] = {}  # worker -> final counts its task returned
        self.pending = as_completed(loop=self.client.loop)  # not the default client's loop
        self.lock = threading.Lock()
        self.exhausted = threading.Event()  # a worker found no unit left: no more workers needed
        self.seen: dict[int, Running | None] = {}  # worker -> its running marker at its last KilledWorker

    def start(self) -> None:
        self.run.start()
        if not self.manifest.blocks:
            self._settle(None)
            return
        try:
            self.ctx.store.write_task(self.manifest.id, cloudpickle.dumps(self.ctx.task))
            # The scheduler's allowed-failures is 0: a task's first death is its last, so even a
            # first run waits for each block's flushes before the next block starts.
            self.spawn = dataclasses.replace(self.spawn, careful=self.backend.allowed_failures() == 0)
            self.client.subscribe_topic(self.topic, self._on_event)
            self._submit(list(self.workers))
            if isinstance(self.run, DaskRun):
                self.run.watch()  # after the workers' tasks: they take the free threads first
            threading.Thread(target=self._drive, name=f"pylo-{self.manifest.id}-driver", daemon=True).start()
            if self.spawn.cap is None:
                threading.Thread(target=self._grow, name=f"pylo-{self.manifest.id}-grow", daemon=True).start()
        except BaseException as exc:  # the client failed us: drop the futures, end the run
            self._unsubscribe()
            self.pending.clear()
            self._settle(exc)
            raise

    def _submit(self, workers: list[int]) -> None:
        futures = self.backend.submit_workers(self.spawn, workers, self.lost, self.generation)
        with self.lock:
            for w, fut in zip(workers, futures):
                self.futures[str(fut.key)] = (w, self.generation[w])
                self.live[w] = fut
        self.pending.update(futures)

    def _grow(self, interval: float = GROW_INTERVAL) -> None:
        """Start a worker for each thread that joins the cluster, until no unit is left to take."""
        while not self.exhausted.wait(interval) and not self.run.done() and not self.run.cancel_requested:
            try:
                threads = sum(self.client.nthreads().values())
            except Exception:  # noqa: BLE001 - the scheduler is unreachable: the drive loop reports it
                return
            with self.lock:
                new = list(to_spawn(threads, len(self.workers), self.spawn.cap))
                for w in new:
                    self.workers.append(w)
                    self.generation[w], self.lost[w] = 0, ()
            if new:
                log.info("execution %s: %d threads joined; workers %d-%d start", self.manifest.id,
                         len(new), new[0], new[-1])
                self._submit(new)

    def cancel_queued(self) -> None:
        """Cancel the tasks that have not started, and tell the running ones at once through
        Dask (the store's marker reaches them too, within a poll)."""
        with self.lock:
            futures = list(self.live.values())
        if futures:
            # On a thread of its own: with the workers gone (a Ctrl-C to the whole process group
            # kills a local cluster's workers too) ``client.run`` would wait for them for good.
            threading.Thread(target=_tell_workers, args=(self.client, self.manifest.id),
                             name=f"pylo-{self.manifest.id}-cancel", daemon=True).start()
            try:
                self.client.cancel(futures, reason="pylo: the execution was cancelled")
            except Exception:  # noqa: BLE001 - the scheduler is gone: the drive loop reports that
                log.warning("execution %s: could not cancel its queued Dask tasks", self.manifest.id)

    def _drive(self) -> None:
        """Follow every worker task to its end; then wait until no lease of the run is alive
        (what Dask cancelled while running still flushes), reconcile the counts and settle."""
        error: BaseException | None = None
        try:
            for batch in self.pending.batches():
                gathered = finished_counts(self.client, batch)
                for fut in batch:
                    error = self._on_task_end(fut, error, gathered.get(str(fut.key)))
            if error is None:
                error = self._unfinished()
        except BaseException as exc:  # the client itself failed: hand it to whoever waits
            error = exc
        finally:
            self._unsubscribe()
            self.pending.clear()
            self.exhausted.set()  # no more workers
            if isinstance(error, StoreUnreachable):  # its workers' tasks ended and could not say so
                for w in self.workers:
                    ended_here(self.manifest.id, lease_name(w))
            if self._all_counted():
                self.run.reconcile(sum(c["finished"] for c in self.counts.values()),
                                   sum(c["failed"] for c in self.counts.values()))
            elif not isinstance(error, ClusterLost):
                self._wait_leases()
                self._reconcile()
            self._settle(error)

    def _on_task_end(self, fut: Future[Any], error: BaseException | None,
                     counts: dict[str, int] | None = None) -> BaseException | None:
        """Carry out what ``decide`` says of a worker task that ended (``counts``: what it
        returned, when fetched already); return the run's error."""
        with self.lock:
            w, gen = self.futures.pop(str(fut.key))
            if self.live.get(w) is fut:  # ended: nobody here wants its result kept on the cluster
                del self.live[w]
        stale = gen != self.generation[w]
        failure: BaseException | None = None
        if stale:
            counts = {}
        elif counts is None:
            counts, failure = _outcome(fut)
        fut.release()
        event = TaskEnded(_ended_as(failure), stale=stale, cancelled=self.run.cancel_requested,
                          failed=error is not None, lost=bool(self.lost[w]),
                          progressed=isinstance(failure, KilledWorker) and self._progressed(w))
        action = decide(event)
        counts = counts if isinstance(counts, dict) else {}
        if action in (Action.COUNT, Action.SKIP_COUNTS) and counts.get("exhausted"):
            self.exhausted.set()
        if action is Action.COUNT:
            self.counts[w] = counts
        elif action is Action.RESUBMIT:
            log.warning("execution %s: worker %d's task killed its Dask workers (KilledWorker): "
                        "resubmitted, its rerun finds the input", self.manifest.id, w)
            self.generation[w] += 1
            self._submit([w])
        elif action is Action.LOSE_AND_RESUBMIT:
            self._lost(w)
        elif action is Action.FAIL:
            assert failure is not None
            self._stop_others()
            return self._translate(fut, failure)
        return error

    def _progressed(self, w: int) -> bool:
        """Whether worker ``w``'s marker of its running input changed since its last
        ``KilledWorker`` (its reruns are narrowing the killer down), or this is its first: a
        first run names no input (careful mode costs a write per input), its rerun will."""
        try:
            marker = read_running(self.ctx.store, self.manifest.id, w)
        except PyloError:
            marker = None
        first = w not in self.seen
        seen, self.seen[w] = self.seen.get(w), marker
        return first or (marker is not None and marker != seen)

    def _all_counted(self) -> bool:
        """Whether the counts the workers' tasks returned are the run's: every worker this client
        started ended and said its counts, no other worker ran (the steward starts workers too,
        for threads that join while its client is gone or busy: their leases say so), and no
        unit was handed back from one worker to another (then the segments say who did what)."""
        with self.lock:
            if len(self.counts) < len(self.workers):
                return False
            names = {lease_name(w) for w in self.workers}
        store, eid = self.ctx.store, self.manifest.id
        try:
            leases = [os.path.basename(p).removesuffix(".json") for p in store.files.listdir(store.layout.leases_dir(eid))]
            handed_back = bool(read_takebook(store, eid).released)
        except PyloError:
            return False
        return not handed_back and all(name in names for name in leases if is_worker_lease(name))

    def _unfinished(self) -> ClusterLost | None:
        """Futures the loop never saw end: the client lost its scheduler and gave up on them."""
        with self.lock:
            left = [f for f in self.live.values() if str(f.key) in self.futures]
        if not left:
            return None
        return self._cluster_lost(_reason(left[0]))

    def _translate(self, fut: Future[Any], failure: BaseException) -> BaseException:
        if isinstance(failure, CancelledError):
            return self._cluster_lost(str(failure) or str(fut.status))
        return failure

    def _cluster_lost(self, reason: str) -> ClusterLost:
        return ClusterLost(
            f"execution {self.manifest.id}: the Dask cluster was lost ({reason}). What its workers "
            f"flushed is in the store: resume with pylo.start_from_past_execution({self.manifest.id!r}, "
            "task), or attach with pylo.attach(...) if its workers still run."
        )

    def _stop_others(self) -> None:
        """A worker failed: ask the others to stop (a marker in the store, which may be the very
        thing that failed, so a store error here is logged and the worker's error kept)."""
        try:
            self.run.cancel()
        except PyloError:
            log.exception("execution %s: could not ask the other workers to stop", self.manifest.id)

    def _lost(self, w: int) -> None:
        """Worker ``w``'s task killed its Dask workers too often and the last death named no new
        input (its process died between inputs): the block it was running is lost (its inputs
        stay pending) and the task is resubmitted for the rest of its units, then more."""
        store, eid = self.ctx.store, self.manifest.id
        blocks = [b for b in worker_chains(store, self.manifest).get(w, []) if b.block not in self.lost[w]]
        running = next((b for b in blocks if _unconcluded(store, eid, b)), None)
        if running is None:
            finish_worker(self.ctx, WorkerTally(worker=w, lost_blocks=self.lost[w]))
            return
        log.error("block %d of %s lost (KilledWorker); its inputs stay pending", running.block, eid)
        self.lost[w] = (*self.lost[w], running.block)
        self.generation[w] += 1
        self._submit([w])


    def _wait_leases(self) -> None:
        """Wait until no worker lease of the run is alive: after a cancel, running workers flush
        first; a lease whose worker died with its Dask worker expires on its own."""
        store, eid = self.ctx.store, self.manifest.id
        while True:
            try:
                leases = [lease for lease in store.read_leases(eid) if is_worker_lease(lease.name)]
            except PyloError:
                log.warning("execution %s: could not read its leases at the end", eid)
                return
            if not [lease for lease in leases if lease.live(store.clock.time() - _LEASE_SLACK)]:
                return
            store.clock.sleep(min(0.2, self.ctx.config.lease_interval))  # the store's clock: injected in tests

    def _reconcile(self) -> None:
        """Record an outcome for the workers that will never write one (cancelled while queued,
        or died with their Dask worker), then set the run's counts to the store's: events may
        have been lost or repeated. The segments have the last word."""
        store, eid = self.ctx.store, self.manifest.id
        try:
            outcomes = store.read_workers(eid)
            states = store.read_states(self.manifest)
            silent = [w for w in self.workers if w not in outcomes]
            chains = worker_chains(store, self.manifest) if silent else {}
            for w in silent:
                tally = WorkerTally.of_blocks(w, (states[b.block] for b in chains.get(w, [])), self.lost[w])
                finish_worker(self.ctx, tally, cancelled=True)
            self.run.reconcile(sum(len(b.finished) for b in states.values()),
                               sum(len(b.failed) for b in states.values()))
        except PyloError:
            log.warning("execution %s: could not read its final counts from the store", eid)

    def _unsubscribe(self) -> None:
        try:
            self.client.unsubscribe_topic(self.topic)
        except Exception:  # noqa: BLE001 - the client is closing or gone: nothing left to drop
            log.debug("execution %s: unsubscribe failed", self.manifest.id)
        # ``unsubscribe_topic`` tells the scheduler but keeps the handler, and with it this driver
        # and its run, referenced by the client for good: put a handler that holds nothing in
        # its place (events still in flight would otherwise be logged as errors).
        handlers = getattr(self.client, "_event_handlers", None)
        if isinstance(handlers, dict) and self.topic in handlers:
            handlers[self.topic] = _late_event
        self.backend._drivers.pop(self.manifest.id, None)

    def _settle(self, error: BaseException | None) -> None:
        end_run(self.run, self.on_end, error)

    def _on_event(self, event: tuple[float, Any]) -> None:
        _, msg = event
        if isinstance(msg, dict) and "pylo_worker" in msg:
            msg = dict(msg)
            msg.pop("worker", None)  # the scheduler writes the Dask worker's address there
            worker = msg.pop("pylo_worker")
            self.run.on_delta(Delta(worker=worker, **msg))


def _late_event(event: Any) -> None:
    """Progress of a run that has ended: its counts were reconciled with the store already."""


def finished_counts(client: Client, futures: list[Future[Any]]) -> dict[str, dict[str, int]]:
    """The counts of the worker tasks among ``futures`` that finished, by key, fetched at once:
    one by one, the 256 of a run took a second after its last worker ended. A task left out (it
    failed, or Dask cancelled it meanwhile) is read alone by ``_outcome``, which tells why."""
    done = {str(f.key): f for f in futures if f.status == "finished"}
    if len(done) < 2:
        return {}
    try:
        got = client.gather(done, errors="skip")
    except Exception:  # noqa: BLE001 - each is read alone, where its error is told apart
        return {}
    return {key: counts for key, counts in got.items() if isinstance(counts, dict)}


def _outcome(fut: Future[Any]) -> tuple[Any, BaseException | None]:
    """What a worker's task ended with: its counts, or why it has none. The future is read once:
    Dask may cancel it at any moment, even once it has finished (cancelling a run cancels all its
    tasks), so a status read first could say ``finished`` of a future that is cancelled by the time
    its result is asked for."""
    try:
        return fut.result(), None
    except CancelledError:  # by us, or by the client when it lost its scheduler
        return None, CancelledError(_reason(fut))
    except CommClosedError as exc:  # the task ended, the scheduler died while its result was fetched
        return None, CancelledError(f"the connection to the scheduler closed: {exc}")
    except Exception as exc:  # noqa: BLE001 - the task's own error, or KilledWorker
        return None, exc


def _ended_as(failure: BaseException | None) -> Ended:
    if failure is None:
        return Ended.FINISHED
    if isinstance(failure, KilledWorker):
        return Ended.KILLED
    return Ended.CANCELLED if isinstance(failure, CancelledError) else Ended.ERROR


def _reason(fut: Future[Any]) -> str:
    """Dask's own words for why ``fut`` was cancelled (e.g. the scheduler connection was lost)."""
    state_error = getattr(getattr(fut, "_state", None), "exception", None)
    text = str(state_error).strip() if state_error is not None else ""
    return text.splitlines()[0] if text else f"future {fut.status}"


# Seconds the start of a run waits for the scheduler to say its allowed-failures.
_ASK_TIMEOUT = 10.0


def _allowed_failures(client: Client) -> int | None:
    """How many deaths of a task the scheduler reruns before ``KilledWorker`` (``None``: it did
    not say in time, or refuses pickled functions; a lost scheduler fails the run later anyway)."""
    try:
        return int(client.run_on_scheduler(_scheduler_allowed_failures, callback_timeout=_ASK_TIMEOUT))
    except Exception:  # noqa: BLE001 - an older or locked-down scheduler: assume Dask's default
        log.debug("could not read the scheduler's allowed-failures", exc_info=True)
        return None


# A lambda, so that cloudpickle ships it by value: the scheduler need not have pylo installed.
_scheduler_allowed_failures: Callable[..., int] = lambda dask_scheduler: dask_scheduler.allowed_failures  # noqa: E731


def _unconcluded(store: Store, eid: str, info: BlockInfo) -> bool:
    state = store.read_block_state(eid, info)
    return len(state.finished) + len(state.failed) < info.count


# Executions cancelled by their client, told to each Dask worker process directly (``client.run``).
_CANCELLED: set[str] = set()


def _mark_cancelled(eid: str) -> None:
    _CANCELLED.add(eid)


def _tell_workers(client: Client, eid: str) -> None:
    """Tell every Dask worker process that ``eid`` was cancelled: its Pylo workers stop after
    the input they run, without waiting for the store's cancel poll."""
    try:
        client.run(_mark_cancelled, eid)
    except Exception:  # noqa: BLE001 - workers gone or client closing: the store's marker remains
        log.debug("execution %s: could not tell the workers of the cancel directly", eid)


# The states of a Dask worker that is leaving the cluster (retired, scaled down, closing): it
# waits for its running tasks before its process ends, so a Pylo worker there stops between
# inputs, hands back the units it had not finished (a free worker continues them) and goes back to
# the scheduler, rather than run on out of the cluster.
_LEAVING = frozenset({DaskStatus.closing_gracefully, DaskStatus.closing, DaskStatus.closed, DaskStatus.failed})


def _dask_worker(spawn: Spawn, w: int, lost: tuple[int, ...]) -> dict[str, int]:
    """One Pylo worker, on a Dask worker; returns its final counts. ``rerun``: its lease exists
    already, so an earlier attempt of this task ran (its Dask worker died): continue from the
    store. A worker that ended already (its task was submitted again, by the steward, say) only
    says its counts. The start's reads go at once: on an object store their latencies would add up."""
    store, eid = spawn.store, spawn.eid
    # on local disk or in memory a read costs less than a thread: the reads go one after the other
    with HelperThreads(4, "pylo-start") if store.files.remote else _InPlace() as pool:
        ended = pool.submit(_ended, store, eid, w)
        task = pool.submit(store.read_task, eid)
        manifest = pool.submit(_manifest, store, eid)
        leased = pool.submit(store.files.exists, store.layout.lease(eid, lease_name(w)))
        outcome = ended.result()
        left_before = outcome is not None and outcome.get("left") is True
        if outcome is not None and not lost and outcome.get("cancelled") is not True and not left_before:
            # it ended as a worker ends (no block left, gave up): a second submission of its key
            # only says so. One that a death interrupted (its outcome written on the way out,
            # cancelled), that lost a block, or that left the cluster goes on from the store.
            return {"finished": int(outcome.get("finished", 0)), "failed": int(outcome.get("failed", 0)),
                    "exhausted": 1}
        ctx = BlockContext(store, eid, task.result(), spawn.config)
        plan = manifest.result()
        rerun = bool(lost) or leased.result()
    worker = get_worker()
    topic = _topic(eid)

    def report(delta: Delta) -> None:
        msg = {k: v for k, v in delta.__dict__.items() if k != "worker"}
        worker.log_event(topic, {"pylo_worker": delta.worker, **msg})  # the scheduler owns "worker"

    def leaving() -> bool:
        return worker.status in _LEAVING

    taker = Taker(store, plan, w)
    steward = _Steward(spawn, taker, plan.workers, get_client()) if w == 0 and spawn.cap is None else None
    try:
        tally = run_worker(ctx, w, taker, stop=lambda: eid in _CANCELLED or leaving(), report=report, rerun=rerun,
                           lost=lost, careful=spawn.careful, hand_back=lambda: leaving() and eid not in _CANCELLED,
                           watch=lambda: InputWatch(store, eid, w, spawn.config.max_input_deaths,
                                                    address=str(worker.address), cause=_death_cause),
                           interrupt_kills=True,  # Dask lets it kill the worker process, then reruns the task
                           left_before=left_before)
    finally:
        if steward is not None:
            steward.stop()
    if leaving() and eid not in _CANCELLED:
        # Its units are handed back. Should every other worker have ended already, nobody would
        # take them: Dask runs this task again on a worker that stays, which takes what is free.
        raise Reschedule()
    return {"finished": tally.finished, "failed": tally.failed, "exhausted": int(taker.exhausted)}


class _InPlace(concurrent.futures.Executor):
    """An executor that runs what it is given at once, in the caller."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        done: concurrent.futures.Future[T] = concurrent.futures.Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to whoever asks for the result, as a pool does
            done.set_exception(exc)
        return done


def _death_cause(marker: Running) -> dict[str, Any]:
    """What the cluster says of the death of the process that wrote ``marker``: its nanny logs
    its exit code (or signal), and an event when it killed it at its memory limit
    (``distributed.worker.memory.terminate``). Asked only when an input is recorded failed."""
    client = get_client()
    found: dict[str, Any] = {}
    for _, msg in reversed(client.get_events("worker-restart-memory")):
        if isinstance(msg, dict) and msg.get("pid") == marker.pid:
            found = {"memory_limit": True, "memory": int(msg.get("rss") or 0) or marker.memory}
            break
    logs = client.get_worker_logs(nanny=True)
    code = exit_code_in([line for lines in logs.values() for _, line in lines], marker.pid)
    return {**found, "exit_code": code} if code is not None else found


# Manifests this process read, newest last: every Pylo worker of a run reads the same one, and a
# manifest is never written twice (hundreds of workers in one process decoded it each).
_MANIFESTS: collections.OrderedDict[tuple[str, str], Manifest] = collections.OrderedDict()
_MANIFESTS_KEPT = 8
_MANIFESTS_LOCK = threading.Lock()
_MANIFEST_READS: SharedCalls[Manifest] = SharedCalls()


def _manifest(store: Store, eid: str) -> Manifest:
    key = (store.url, eid)
    with _MANIFESTS_LOCK:
        found = _MANIFESTS.get(key)
    if found is not None:
        return found
    manifest = _MANIFEST_READS.call(key, lambda: store.read_manifest(eid))  # workers that start together
    with _MANIFESTS_LOCK:
        _MANIFESTS[key] = manifest
        while len(_MANIFESTS) > _MANIFESTS_KEPT:
            _MANIFESTS.popitem(last=False)
    return manifest


def _ended(store: Store, eid: str, w: int) -> dict[str, Any] | None:
    """Worker ``w``'s recorded outcome, or ``None`` while it has none (one GET)."""
    path = store.layout.worker(eid, w)
    try:
        obj = json.loads(store.files.get(path, MAX_SMALL_BYTES))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise CorruptSnapshot(f"corrupt object {path}: {exc}", path) from exc
    return obj if isinstance(obj, dict) else None


class _Steward:
    """Inside worker 0's task: starts a worker for each thread that joins the cluster, also when
    the client that started the run is gone, until no unit is left to take. Its submissions
    carry the same keys as the client's, so Dask runs each worker once whoever submits it."""

    def __init__(self, spawn: Spawn, taker: Taker, started: int, client: Client,
                 interval: float = STEWARD_INTERVAL) -> None:
        # ``client``: the Dask worker's own, got on the task's thread (``get_client`` knows the
        # worker only there); it is safe to call from the steward's thread.
        self.spawn, self.taker, self.started, self.interval = spawn, taker, started, interval
        self.client = client
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"pylo-{spawn.eid}-steward", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval) and not self.taker.exhausted:
            try:
                new = to_spawn(sum(self.client.nthreads().values()), self.started, self.spawn.cap)
                if new:
                    self.spawn.submit(self.client, list(new))
                    self.started = new.stop
            except Exception:  # noqa: BLE001 - the scheduler is busy or gone: look again later
                log.debug("execution %s: the steward could not reach the scheduler", self.spawn.eid, exc_info=True)
