"""``Pylo``: the facade, with the original pylo's API. Thin: it plans an execution in the store and hands its worker
chains to a backend; everything it reads back comes from the store."""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from ._core.arguments import check_inputs, check_main_guard, check_one_argument
from ._core.block import BlockContext
from ._core.clock import Clock, SystemClock
from ._core.config import Config
from ._core.plan import plan_execution
from ._ui.gave_up import said_here
from ._ui.progress import follow
from ._core.run import Run
from ._core.attach import attach_run
from ._core.status import Status
from ._core.frame import records_frame
from ._core.plan import Held
from ._core.rerun import Only, matcher
from ._core.results import read_results
from ._core.state import (
    chain, iter_finished, iter_unfinished, read_exceptions, read_state, split_unfinished, unfinished,
)
from ._core.summary import Summary, summarize
from ._core.verify import VerifyReport, remove_stale_temps, verify_execution
from .backends import Backend
from .backends._bags import is_bag, plan_bag
from .backends._read_bags import results_bag, state_bags
from ._ui.activity import Pictures, read_activity
from .backends._threads import ThreadBackend
from .errors import ExecutionClaimed, InvalidArgument, PyloError, StoreUnreachable
from .store import Claim, ExceptionRecord, Manifest, Store
from .store._fs import DEFAULT_RETRY_SECONDS

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Options", "Pylo"]

log = logging.getLogger("pylo")
T = TypeVar("T")


class Options(TypedDict, total=False):
    """The keyword-only options beyond the original pylo's; see ``Config`` for their meaning."""

    retries: int
    retry_delay: float
    retry_backoff: float
    retry_max_delay: float
    retry_jitter: float
    flush_interval: float
    block_size: int
    timeout: float | None
    store_results: bool
    lease_interval: float


class Pylo:
    """Runs a task over inputs, snapshots what happened to a store, and resumes from it."""

    def __init__(self, store: Store, backend: Backend, config: Config, *, clock: Clock | None = None) -> None:
        self.store = store
        self.backend = backend
        self.config = config
        self._clock = clock or SystemClock()
        self._local = threading.local()  # the run this thread launched last (see _blocking)

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def local_multithread(
        cls,
        local_store_dir: str | os.PathLike[str],
        number_of_workers: int | None = None,
        max_worker_failures: int = 1000,
        task_executions_before_flush: int = 1000,
        store_exceptions: bool = True,
        *,
        storage_options: dict[str, Any] | None = None,
        store_retry_seconds: float = DEFAULT_RETRY_SECONDS,
        clock: Clock | None = None,
        **options: Unpack[Options],
    ) -> Pylo:
        """Workers are threads of this process; the store is any path or fsspec URL.
        ``store_retry_seconds``: how long a failing store operation is retried before
        ``StoreUnreachable``."""
        config = _config(number_of_workers, max_worker_failures, task_executions_before_flush, store_exceptions, options)
        store = Store(local_store_dir, storage_options, retry_for=store_retry_seconds)
        return cls(store, ThreadBackend(), config, clock=clock)

    @classmethod
    def dask(
        cls,
        client: Any,
        store_url: str | os.PathLike[str],
        *,
        storage_options: dict[str, Any] | None = None,
        store_retry_seconds: float = DEFAULT_RETRY_SECONDS,
        number_of_workers: int | None = None,
        max_worker_failures: int = 1000,
        task_executions_before_flush: int = 1000,
        store_exceptions: bool = True,
        resources: dict[str, float] | None = None,
        workers: list[str] | str | None = None,
        **options: Unpack[Options],
    ) -> Pylo:
        """Each Pylo worker is one long Dask task on the cluster, which runs its blocks in order.

        ``client``: a ``distributed.Client``, a scheduler address, or ``None`` for an embedded
        ``LocalCluster`` that this ``Pylo`` owns and closes. The store must be reachable from
        the Dask workers with the same ``storage_options`` (they travel in memory only).
        ``resources`` / ``workers``: where the tasks may run (as in ``Client.submit``); these and
        the ``dask.annotate`` annotations around a submit apply to every submission of the run,
        resubmissions after a lost worker included. The run belongs to the store: it goes on if
        this client dies, and ``attach`` follows it from any process.
        """
        from .backends._dask import DaskBackend

        if client is None:
            check_main_guard()
        config = _config(number_of_workers, max_worker_failures, task_executions_before_flush, store_exceptions, options)
        store = Store(store_url, storage_options, retry_for=store_retry_seconds)
        return cls(store, DaskBackend(client, resources=resources, workers=workers), config)

    def close(self) -> None:
        """Release what this Pylo owns (an embedded Dask cluster)."""
        self.backend.close()

    def __enter__(self) -> Pylo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Pylo {type(self.backend).__name__} store={self.store.url!r}>"

    # -- running -------------------------------------------------------------------------------

    def submit(self, inputs: Iterable[Any], task: Callable[[Any], object]) -> Run:
        """Start a new execution of ``task`` over ``inputs`` and return its handle at once.

        ``inputs`` may be any iterable, a generator included; it is streamed into the store. A
        ``dask.bag.Bag`` is written by the Dask workers that compute its partitions (one block per
        partition; on threads, partitions are computed here one at a time).
        Raises ``InvalidArgument`` (bad task or inputs), ``TaskNotSerializable`` and
        ``InputsFailed`` (a bag partition raised) before any work.
        """
        self._check_task(task)
        if is_bag(inputs):
            client = getattr(self.backend, "client", None)
            manifest = plan_bag(self.store, inputs, task, self.config, self._workers(), client)
        else:
            check_inputs(inputs)
            manifest = plan_execution(self.store, inputs, task, self.config, self._workers())
        log.info("execution %s started: %d inputs, %d workers", manifest.id, manifest.n_inputs, manifest.workers)
        return self._launch(manifest, task)

    def resume(
        self,
        execution_id: str,
        task: Callable[[Any], object],
        *,
        force: bool = False,
        only: Only | None = None,
        pending: bool = True,
    ) -> Run:
        """Start a new execution that reruns the failed and pending inputs of ``execution_id``
        (following its chain of parents) and return its handle at once.

        ``only``: rerun only the failures it names: an exception type, a type name, a tuple of
        them (matched on the recorded type and its bases, by name), or a predicate on the
        ``ExceptionRecord`` of the input's last failure. ``pending``: whether inputs never
        attempted rerun too. The inputs left out stay unfinished in the new execution, with
        their last failure among its exceptions, so a later resume still finds them.

        Raises ``ExecutionClaimed`` while ``execution_id``, or a resume of it, still runs anywhere
        (its workers' leases in the store say so): ``attach`` to it instead. ``force=True`` asks
        that run to stop, waits until its workers have flushed and ended, then resumes from where
        it got to — so two forced resumes in a row never run an input twice."""
        self._check_task(task)
        select = matcher(only)
        if not isinstance(pending, bool):
            raise InvalidArgument(f"pending must be a bool, got {pending!r}")
        parent = self.store.read_manifest(self.store.resolve(execution_id))
        claim = self.store.claim(parent.id, force=force)
        held: tuple[Claim, ...] = (claim,)
        try:
            if claim.took_over and claim.took_over != parent.id:
                # the previous holder had started a resume of it: continue from that one instead
                log.warning("execution %s: continuing from %s, the resume its previous claimant started",
                            parent.id, claim.took_over)
                parent = self.store.read_manifest(claim.took_over)
                held = (*held, self.store.claim(parent.id, force=force))
            remove_stale_temps(self.store, chain(self.store, parent.id))  # its writers are gone: we hold it
            left_out: Iterable[Held] = ()
            if select is None and pending:
                items: Iterable[tuple[int, Any]] = unfinished(self.store, parent)
            else:
                items, left_out = split_unfinished(self.store, parent, select, pending)
            positions = _Positions()
            manifest = plan_execution(
                self.store, positions.strip(items), task, self.config, self._workers(),
                parent=parent, positions=positions, held=left_out,
            )
            for taken in held:
                self.store.point(taken, manifest.id)
        except BaseException:
            self._release(held, None)
            raise
        log.info("execution %s resumed from %s: %d inputs to rerun", manifest.id, parent.id, manifest.n_inputs)
        return self._launch(manifest, task, held=held)

    def resume_or_attach(self, execution_id: str, task: Callable[[Any], object]) -> Run:
        """``resume``, or ``attach`` when ``execution_id`` (or a resume of it) still runs: the call
        for a pipeline step that is retried after its own death."""
        try:
            return self.resume(execution_id, task)
        except ExecutionClaimed as exc:
            running = self._running_for(execution_id)
            if running is None:
                raise
            log.info("execution %s still runs (%s): attaching", running, exc)
            return self.attach(running)

    def attach(self, execution_id: str, *, poll: float = 1.0) -> Run:
        """A live handle on an execution that runs elsewhere (another client, a dead kernel's Dask
        workers): ``progress()`` read from the store every ``poll`` s, ``wait()``, ``cancel()``.
        It ends once no worker of the execution is alive. Raises ``ExecutionNotFound``."""
        manifest = self.store.read_manifest(execution_id)
        run = Run(manifest.id, manifest.n_inputs, on_cancel=lambda: self._cancel(manifest.id))
        run.describe = lambda: self.summary(manifest.id)
        run.draw = lambda: self.pictures(manifest.id)
        attach_run(self.store, manifest, run, poll=poll)
        return run

    def _running_for(self, execution_id: str) -> str | None:
        """The execution that runs on behalf of ``execution_id``: itself or the resume its claim names."""
        runs = self.store.claimed_run(execution_id)
        for eid in (runs, execution_id):
            if eid is not None and self.store.is_running(eid):
                return eid
        return None

    def start_from_scratch(self, inputs: Iterable[Any], task: Callable[[Any], object], *, progress: bool = True) -> str:
        """Run ``task`` over ``inputs`` until every worker is done or gave up; return the id.

        ``progress``: a progress bar (a widget in Jupyter, text on a terminal's stderr)."""
        return self._blocking(lambda: self.submit(inputs, task), progress)

    def start_from_past_execution(
        self,
        execution_id: str,
        task: Callable[[Any], object],
        *,
        progress: bool = True,
        force: bool = False,
        only: Only | None = None,
        pending: bool = True,
    ) -> str:
        """Rerun what ``execution_id`` left unfinished, in a new execution; return its id.
        ``force``, ``only``, ``pending``: see ``resume``."""
        return self._blocking(
            lambda: self.resume(execution_id, task, force=force, only=only, pending=pending), progress
        )

    # -- reading -------------------------------------------------------------------------------
    # Every ``execution_id`` may be shortened to a unique prefix, or to the 8 characters that end
    # it (see ``Store.resolve``).

    def get_state(self, execution_id: str) -> tuple[list[Any], list[Any]]:
        """``(finished, unfinished)`` inputs, in input order; finished includes inherited ones.
        Both lists are held in this process: for tens of millions of inputs, stream them with
        ``iter_finished``/``iter_unfinished`` or read them on the cluster with ``state_bags``."""
        return read_state(self.store, self.store.resolve(execution_id))

    def iter_finished(self, execution_id: str) -> Iterator[Any]:
        """The finished inputs of ``get_state``, in input order, streamed: memory holds one block
        of each execution of the chain, whatever the execution's size."""
        return iter_finished(self.store, self.store.resolve(execution_id))

    def iter_unfinished(self, execution_id: str) -> Iterator[Any]:
        """The unfinished (failed or pending) inputs of ``get_state``, in input order, streamed."""
        return iter_unfinished(self.store, self.store.resolve(execution_id))

    def state_bags(self, execution_id: str) -> tuple[Any, Any]:
        """``(finished, unfinished)`` inputs as two ``dask.bag.Bag`` read on the workers, as
        ``results_bag`` reads results: nothing of the inputs crosses this process. One partition
        per stored inputs object, each in input order (the finished bag goes execution by
        execution along the chain). Unpickles the inputs where computed: the store must be trusted."""
        return state_bags(self.store, self.store.resolve(execution_id))

    def get_exceptions(self, execution_id: str, only: Only | None = None) -> list[ExceptionRecord]:
        """Every failed attempt of this execution (not its parents'), in input order; ``only``
        keeps those of one exception type (or name, tuple, predicate: see ``resume``)."""
        return read_exceptions(self.store, self.store.resolve(execution_id), matcher(only))

    def exceptions_frame(self, execution_id: str, only: Only | None = None) -> Any:
        """The failed attempts as a ``pandas.DataFrame``, one row per attempt: position, input
        (its repr), worker, attempt, type, message, time, first and last traceback line.
        Needs pandas (``pip install 'pylo-dask[pandas]'``); raises ``ImportError`` without it."""
        return records_frame(self.get_exceptions(execution_id, only))

    def get_results(self, execution_id: str) -> Iterator[tuple[Any, Any]]:
        """``(input, result)`` of every finished input (inherited ones included), in input order,
        streamed one block at a time. Raises ``ResultsNotKept`` when the execution (or a parent
        that finished inputs) ran without ``store_results=True``. Unpickles the results: the
        store must be trusted."""
        return read_results(self.store, self.store.resolve(execution_id))

    def results_bag(self, execution_id: str) -> Any:
        """The pairs of ``get_results`` as a ``dask.bag.Bag`` whose partitions are read where
        they are computed: one per stored inputs object (a block, or a pack of blocks), each
        stored object read once; execution by execution along the chain."""
        return results_bag(self.store, self.store.resolve(execution_id))

    def summary(self, execution_id: str) -> Summary:
        """Counts overall and per worker, read without unpickling anything."""
        return summarize(self.store, self.store.resolve(execution_id))

    def pictures(self, execution_id: str) -> Pictures:
        """Throughput and ETA over time, and which worker ran which block when (failures and
        workers that gave up marked), as SVG drawn from the store's progress segments; shown as
        pictures in a notebook. Read without unpickling anything."""
        eid = self.store.resolve(execution_id)
        return Pictures.of(read_activity(self.store, eid, running=self.store.is_running(eid)))

    def verify(self, execution_id: str, *, repair: bool = False) -> VerifyReport:
        """Check every object of ``execution_id`` and its parents, without stopping at the first
        problem and without running any pickle: ``report.ok``, ``report.problems``. ``repair``
        removes the temp files that writers killed mid-write left (``report.leftovers``)."""
        return verify_execution(self.store, self.store.resolve(execution_id), repair=repair)

    def executions(self) -> list[str]:
        """The ids of the executions in the store, oldest first; a resumed execution always
        comes after the one it was resumed from (even when their hosts' clocks disagree)."""
        return self.store.executions()

    # -- awaitable twins -----------------------------------------------------------------------
    # Each runs its blocking twin on a helper thread, so store I/O never blocks the event loop;
    # off its loop's thread an asynchronous distributed.Client answers synchronously.

    async def submit_async(self, inputs: Iterable[Any], task: Callable[[Any], object]) -> Run:
        """``submit`` off the event loop; ``await`` the returned run for its id."""
        return await _launch_async(functools.partial(self.submit, inputs, task))

    async def resume_async(self, execution_id: str, task: Callable[[Any], object], **kwargs: Any) -> Run:
        """``resume`` off the event loop (same keywords)."""
        return await _launch_async(functools.partial(self.resume, execution_id, task, **kwargs))

    async def attach_async(self, execution_id: str, *, poll: float = 1.0) -> Run:
        """``attach`` off the event loop; ``await`` the handle for the run's end."""
        return await asyncio.to_thread(functools.partial(self.attach, execution_id, poll=poll))

    async def resume_or_attach_async(self, execution_id: str, task: Callable[[Any], object]) -> Run:
        """``resume_or_attach`` off the event loop."""
        return await _launch_async(functools.partial(self.resume_or_attach, execution_id, task))

    async def start_from_scratch_async(
        self, inputs: Iterable[Any], task: Callable[[Any], object], *, progress: bool = True
    ) -> str:
        """``start_from_scratch`` without blocking the event loop."""
        return await self._wait_async(await self.submit_async(inputs, task), progress)

    async def start_from_past_execution_async(
        self, execution_id: str, task: Callable[[Any], object], *, progress: bool = True, **kwargs: Any
    ) -> str:
        """``start_from_past_execution`` without blocking the event loop (same keywords)."""
        return await self._wait_async(await self.resume_async(execution_id, task, **kwargs), progress)

    async def get_state_async(self, execution_id: str) -> tuple[list[Any], list[Any]]:
        return await asyncio.to_thread(self.get_state, execution_id)

    async def get_exceptions_async(self, execution_id: str, only: Only | None = None) -> list[ExceptionRecord]:
        return await asyncio.to_thread(self.get_exceptions, execution_id, only)

    async def exceptions_frame_async(self, execution_id: str, only: Only | None = None) -> Any:
        return await asyncio.to_thread(self.exceptions_frame, execution_id, only)

    async def summary_async(self, execution_id: str) -> Summary:
        return await asyncio.to_thread(self.summary, execution_id)

    async def verify_async(self, execution_id: str) -> VerifyReport:
        return await asyncio.to_thread(self.verify, execution_id)

    async def results_bag_async(self, execution_id: str) -> Any:
        """``results_bag``, its store reads (manifests, states) off the event loop."""
        return await asyncio.to_thread(self.results_bag, execution_id)

    async def get_results_async(self, execution_id: str, *, batch: int = 1000) -> AsyncIterator[tuple[Any, Any]]:
        """``get_results`` as an async iterator: ``batch`` pairs are read per trip to a helper thread."""
        async for pair in _batched(await asyncio.to_thread(self.get_results, execution_id), batch):
            yield pair

    async def iter_finished_async(self, execution_id: str, *, batch: int = 1000) -> AsyncIterator[Any]:
        """``iter_finished`` as an async iterator (``batch`` inputs per trip to a helper thread)."""
        async for value in _batched(await asyncio.to_thread(self.iter_finished, execution_id), batch):
            yield value

    async def iter_unfinished_async(self, execution_id: str, *, batch: int = 1000) -> AsyncIterator[Any]:
        """``iter_unfinished`` as an async iterator (``batch`` inputs per trip to a helper thread)."""
        async for value in _batched(await asyncio.to_thread(self.iter_unfinished, execution_id), batch):
            yield value

    async def state_bags_async(self, execution_id: str) -> tuple[Any, Any]:
        """``state_bags``, its store reads (manifests, states) off the event loop."""
        return await asyncio.to_thread(self.state_bags, execution_id)

    async def pictures_async(self, execution_id: str) -> Pictures:
        """``pictures``, its store reads off the event loop."""
        return await asyncio.to_thread(self.pictures, execution_id)

    async def _wait_async(self, run: Run, progress: bool) -> str:
        with follow(run, enabled=progress, dashboard=getattr(self.backend, "dashboard_link", None)):
            try:
                eid = await run
            except asyncio.CancelledError:  # the awaiting task was cancelled: so is the run
                run.cancel()
                raise
        p = run.progress()
        log.info("execution %s %s: %d finished, %d failed, %d pending of %d",
                 eid, run.status.value, p.finished, p.failed, p.pending, p.total)
        return eid

    # -- helpers -------------------------------------------------------------------------------

    def _workers(self) -> int:
        return self.config.number_of_workers or self.backend.default_workers()

    def _check_task(self, task: Callable[[Any], object]) -> None:
        if not callable(task):
            raise InvalidArgument(f"task must be callable, got {type(task).__name__}")
        check_one_argument(task)
        self.backend.check(self.store, task)

    def _launch(self, manifest: Manifest, task: Callable[[Any], object], held: tuple[Claim, ...] = ()) -> Run:
        """Claim the new execution (with ``held``, the claims taken to plan it), then start it;
        the backend releases the claims when the run ends, before anyone waiting wakes up."""
        try:
            claims = (*held, self.store.claim(manifest.id))
        except BaseException:
            self._release(held, None)
            raise
        ctx = BlockContext(self.store, manifest.id, task, self.config, self._clock)
        run = Run(manifest.id, manifest.n_inputs, on_cancel=lambda: self._cancel(manifest.id))
        run.describe = lambda: self.summary(manifest.id)
        run.draw = lambda: self.pictures(manifest.id)
        self._local.launched = run
        try:
            self.backend.launch(ctx, manifest, run, lambda error: self._release(claims, error))
        except BaseException:
            if run.status is Status.PENDING:  # the backend never took the run over: nobody else will
                self._release(claims, None)
            raise
        return run

    def _release(self, claims: tuple[Claim, ...], error: BaseException | None) -> None:
        for claim in claims:
            if isinstance(error, StoreUnreachable):  # writing would only wait through the retries
                self.store.abandon(claim)
            else:
                self.store.release(claim)

    def _blocking(self, start: Callable[[], Run], progress: bool) -> str:
        """Start a run and wait for it. A Ctrl-C that lands before the wait (while the run is
        being launched) stops the run too: the workers flush, then the interrupt propagates."""
        self._local.launched = None
        try:
            return self._wait(start(), progress)
        except KeyboardInterrupt:
            run = self._launched()
            if run is not None:
                run.stop()
            raise

    def _launched(self) -> Run | None:
        """The run this thread launched last (``None`` before ``_blocking`` launched one)."""
        run: Run | None = getattr(self._local, "launched", None)
        return run

    def _wait(self, run: Run, progress: bool) -> str:
        with follow(run, enabled=progress, dashboard=getattr(self.backend, "dashboard_link", None)) as bar:
            eid = run.wait()
            gave_up = self._gave_up(eid)
            if bar is not None and gave_up:
                bar.show_gave_up(len(gave_up))
        p = run.progress()
        log.info("execution %s %s: %d finished, %d failed, %d pending of %d",
                 eid, run.status.value, p.finished, p.failed, p.pending, p.total)
        self._warn_gave_up(eid, [w for w in gave_up if not said_here(eid, w)])
        return eid

    def _gave_up(self, eid: str) -> list[int]:
        """The workers of ``eid`` that spent their failure budget, from their outcomes."""
        try:
            outcomes = self.store.read_workers(eid)
        except PyloError:  # the run ended; the summary will say what the store holds
            return []
        return sorted(w for w, outcome in outcomes.items() if outcome.get("gave_up") is True)

    def _warn_gave_up(self, eid: str, gave_up: list[int]) -> None:
        """One WARNING line for workers that gave up in another process (Dask): their own line
        stays in the Dask workers' logs, which a notebook does not show. Workers that ran in this
        process (threads, an in-process cluster) said it here already, as it happened."""
        if gave_up:
            log.warning(
                "execution %s: worker%s %s gave up after max_worker_failures=%d failed attempts; "
                "their inputs are left pending: resume the execution to run them",
                eid, "s" if len(gave_up) > 1 else "", ", ".join(map(str, gave_up)), self.config.max_worker_failures,
            )

    def _cancel(self, execution_id: str) -> None:
        log.info("execution %s: cancel requested", execution_id)
        self.store.request_cancel(execution_id)
        cancel_queued = getattr(self.backend, "cancel_queued", None)
        if cancel_queued is not None:  # Dask: what has not started is cancelled there at once
            cancel_queued(execution_id)


async def _batched(items: Iterator[T], batch: int) -> AsyncIterator[T]:
    """``items`` read ``batch`` at a time on a helper thread (a store read may block)."""
    while chunk := await asyncio.to_thread(lambda: list(itertools.islice(items, batch))):
        for item in chunk:
            yield item


async def _launch_async(start: Callable[[], Run]) -> Run:
    """Run ``start`` on a helper thread. Cancelled while it works, the launch goes on there (a
    thread cannot be interrupted), and the run it starts is cancelled as soon as it exists."""
    launch = asyncio.ensure_future(asyncio.to_thread(start))
    try:
        return await asyncio.shield(launch)
    except asyncio.CancelledError:
        launch.add_done_callback(_cancel_launched)
        raise


def _cancel_launched(launch: asyncio.Future[Run]) -> None:
    if not launch.cancelled() and launch.exception() is None:
        launch.result().cancel()


class _Positions:
    """Splits a stream of (position, value) pairs into the values, fed to the planner, and the
    positions, which the planner reads back block by block as it goes."""

    def __init__(self) -> None:
        self._queue: collections.deque[int] = collections.deque()

    def strip(self, items: Iterable[tuple[int, Any]]) -> Iterable[Any]:
        for pos, value in items:
            self._queue.append(pos)
            yield value

    def __iter__(self) -> _Positions:
        return self

    def __next__(self) -> int:
        if not self._queue:
            raise StopIteration
        return self._queue.popleft()


def _config(
    number_of_workers: int | None,
    max_worker_failures: int,
    task_executions_before_flush: int,
    store_exceptions: bool,
    options: dict[str, Any] | Options,
) -> Config:
    """The Config of both constructors: the original pylo's four values plus the keyword-only options."""
    return Config(
        number_of_workers=number_of_workers,
        max_worker_failures=max_worker_failures,
        task_executions_before_flush=task_executions_before_flush,
        store_exceptions=store_exceptions,
        **_checked(options),
    )


#: The constructors' named keyword arguments, listed with ``Options`` when a name is unknown.
_NAMED = ("number_of_workers", "max_worker_failures", "task_executions_before_flush", "store_exceptions",
          "storage_options", "store_retry_seconds")


def _checked(options: dict[str, Any] | Options) -> dict[str, Any]:
    unknown = set(options) - set(Options.__annotations__)
    if unknown:
        known = sorted({*Options.__annotations__, *_NAMED})
        raise InvalidArgument(f"unknown option(s) {sorted(unknown)}; known: {', '.join(known)}")
    return dict(options)
