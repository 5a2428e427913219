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

from ._numbers import count
from ._core.arguments import check_inputs, check_main_guard, check_one_argument
from ._core.block import BlockContext
from ._clock import Clock, SystemClock
from ._config import Config
from ._core.dask_config import CONSTRUCTOR_KEYS, OPTION_KEYS, configured, merge
from ._core.plan import plan_execution
from ._ui.gave_up import said_here
from ._ui.progress import follow
from ._core.run import Run
from ._core.attach import attach_run
from ._core.per_thread import PerThread
from ._core.status import Status
from ._core.frame import records_frame
from ._core.plan import Held
from ._core.rerun import Only, Selector, matcher
from ._core.results import read_results
from ._core.state import (
    iter_finished, iter_unfinished, lineage, read_exceptions, read_state, split_unfinished, unfinished,
)
from ._core.summary import Summary, summarize
from ._core.tolerance import Stop, Tolerance, stop_for_error
from ._core.verify import VerifyReport, remove_stale_temps, verify_execution
from .backends import Backend
from .backends._bags import is_bag, plan_bag
from .backends._dask_inputs import dask_inputs, refuse_futures
from .backends._read_bags import results_bag, state_bags
from ._ui.activity import Pictures, read_activity
from .backends._threads import ThreadBackend
from .store._cadence import defaults_for
from .errors import ExecutionClaimed, InvalidArgument, PyloError, StoreUnreachable
from .store import Claim, ExceptionRecord, Manifest, Store
from .store._fs import DEFAULT_RETRY_SECONDS
from .store._stop_record import write_stop

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Options", "Pylo"]

log = logging.getLogger("pylo")
T = TypeVar("T")

#: Seconds a run that ended on an unreachable store keeps trying to record why, in the background.
STOP_RECORD_PATIENCE = 600.0


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
    cancel_poll: float
    max_failures: int | None
    max_failure_rate: float | None
    cancel_grace: float
    max_input_deaths: int


class Pylo:
    """Runs a task over inputs, snapshots what happened to a store, and resumes from it."""

    def __init__(self, store: Store, backend: Backend, config: Config, *, clock: Clock | None = None) -> None:
        self.store = store
        self.backend = backend
        self.config = config
        self._clock = clock or SystemClock()
        self._launched_here: PerThread[Run] = PerThread()  # the run each thread launched last

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def local_multithread(
        cls,
        local_store_dir: str | os.PathLike[str] | None = None,
        number_of_workers: int | None = None,
        max_worker_failures: int | None = None,
        task_executions_before_flush: int | None = None,
        store_exceptions: bool | None = None,
        *,
        storage_options: dict[str, Any] | None = None,
        store_retry_seconds: float | None = None,
        clock: Clock | None = None,
        **options: Unpack[Options],
    ) -> Pylo:
        """Workers are threads of this process; the store is any path or fsspec URL.
        ``store_retry_seconds``: how long a failing store operation is retried before
        ``StoreUnreachable`` (default 6.5). ``options``: see ``Config`` — e.g. ``max_failures=100``
        stops every worker once the run has more failed inputs than that (``run.reason`` and the
        summary say so), ``cancel_grace`` bounds how long a cancel waits for a stuck input.

        An argument left out (or ``None``) is read from the ``pylo:`` section of the Dask config
        (YAML or ``DASK_PYLO__…`` variables, see ``pylo._core.dask_config``), else takes pylo's
        default (``max_worker_failures=1000``, ``task_executions_before_flush=1000``,
        ``store_exceptions=True``, the rest as in ``Config``). Raises ``InvalidArgument``."""
        store, config = _settings(
            local_store_dir, storage_options, store_retry_seconds, number_of_workers=number_of_workers,
            max_worker_failures=max_worker_failures, task_executions_before_flush=task_executions_before_flush,
            store_exceptions=store_exceptions, options=options,
        )
        return cls(store, ThreadBackend(), config, clock=clock)

    @classmethod
    def dask(
        cls,
        client: Any,
        store_url: str | os.PathLike[str] | None = None,
        *,
        storage_options: dict[str, Any] | None = None,
        store_retry_seconds: float | None = None,
        number_of_workers: int | None = None,
        max_worker_failures: int | None = None,
        task_executions_before_flush: int | None = None,
        store_exceptions: bool | None = None,
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
        Arguments left out are read from the Dask config's ``pylo:`` section, as for
        ``local_multithread``.
        """
        from .backends._dask import DaskBackend

        if client is None:
            check_main_guard()
        store, config = _settings(
            store_url, storage_options, store_retry_seconds, number_of_workers=number_of_workers,
            max_worker_failures=max_worker_failures, task_executions_before_flush=task_executions_before_flush,
            store_exceptions=store_exceptions, options=options,
        )
        return cls(store, DaskBackend(client, resources=resources, workers=workers), config)

    def with_options(self, **options: Any) -> Pylo:
        """A Pylo on the same store and backend whose executions run with ``options`` changed
        (e.g. ``max_failures=10``); closing it is closing this one. Raises ``InvalidArgument``."""
        return type(self)(self.store, self.backend, self.config.replace(**_checked(options)), clock=self._clock)

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
        partition; on threads, partitions are computed here one at a time); so is a Dask Series.
        On Dask, a list of Dask futures (or one future of a list, ``client.compute(...)``) runs
        over their values, resolved on the workers. A Dask DataFrame (whose iteration yields its
        column names) or Array is refused with what to pass instead (``df.to_bag(...)``), and so
        are Dask futures on threads or inside a generator.
        Raises ``InvalidArgument`` (bad task or inputs), ``TaskNotSerializable`` and
        ``InputsFailed`` (a bag partition raised) before any work.
        """
        self._check_task(task)
        client = self.backend.client
        if not is_bag(inputs):
            check_inputs(inputs)
            bag = dask_inputs(inputs, client, self.config.block_size)
            inputs = refuse_futures(inputs) if bag is None else bag
        if is_bag(inputs):
            manifest = plan_bag(self.store, inputs, task, self.config, self._workers(), client)
        else:
            manifest = plan_execution(self.store, inputs, task, self.config, self._workers())
        log.info("execution %s started: %s inputs, %s workers", manifest.id, count(manifest.n_inputs),
                 count(manifest.workers))
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
        it got to — so two forced resumes in a row never run an input twice. Raises
        ``IncompatibleSnapshot`` when an object of the chain (a worker outcome included) has a
        format version this pylo does not read."""
        self._check_task(task)
        select = matcher(only)
        if not isinstance(pending, bool):
            raise InvalidArgument(f"pending must be a bool, got {pending!r}")
        parent = self.store.read_manifest(self.store.resolve(execution_id))
        claims, parent = self._claim_to_resume(parent, force)
        try:
            manifest = self._plan_resume(parent, task, select, pending)
            for claim in claims:
                self.store.point(claim, manifest.id)
        except BaseException:
            self._release(claims, None)
            raise
        log.info("execution %s resumed from %s: %s inputs to rerun", manifest.id, parent.id, count(manifest.n_inputs))
        return self._launch(manifest, task, taken=claims)

    def _claim_to_resume(self, parent: Manifest, force: bool) -> tuple[tuple[Claim, ...], Manifest]:
        """Claim ``parent``; return the claims taken and the execution to resume from. When the
        claim was taken over from a holder that had started a resume of it, that resume is
        claimed too and continued instead, so that nothing it finished runs again."""
        claim = self.store.claim(parent.id, force=force)
        if not claim.took_over or claim.took_over == parent.id:
            return (claim,), parent
        try:
            log.warning("execution %s: continuing from %s, the resume its previous claimant started",
                        parent.id, claim.took_over)
            started = self.store.read_manifest(claim.took_over)
            return (claim, self.store.claim(started.id, force=force)), started
        except BaseException:
            self._release((claim,), None)
            raise

    def _plan_resume(self, parent: Manifest, task: Callable[[Any], object], select: Selector | None,
                     pending: bool) -> Manifest:
        """Plan the resume of ``parent`` (claimed by this process): the unfinished inputs of its
        lineage that ``select`` and ``pending`` choose rerun; the others are left out, kept."""
        manifests = lineage(self.store, parent.id)
        for earlier in manifests:  # an outcome a newer pylo wrote is refused, never guessed at
            self.store.read_workers(earlier.id)
        remove_stale_temps(self.store, manifests)  # its writers are gone: we hold it
        left_out: Iterable[Held] = ()
        if select is None and pending:
            items: Iterable[tuple[int, Any]] = unfinished(self.store, parent)
        else:
            items, left_out = split_unfinished(self.store, parent, select, pending)
        positions = _Positions()
        return plan_execution(
            self.store, positions.strip(items), task, self.config, self._workers(),
            parent=parent, positions=positions, held=left_out,
        )

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
        It ends once no worker of the execution is alive; an execution that has ended already
        gives a handle that has ended too, with its final counts. ``execution_id`` may be
        shortened, as everywhere. Raises ``ExecutionNotFound``."""
        manifest = self.store.read_manifest(self.store.resolve(execution_id))
        run = self._new_run(manifest)
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
        Needs pandas (``pip install 'pylo-dask[dataframe]'``); raises ``ImportError`` without it."""
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
        with follow(run, enabled=progress, dashboard=self.backend.dashboard_link):
            try:
                eid = await run
            except asyncio.CancelledError:  # the awaiting task was cancelled: so is the run
                run.cancel()
                raise
        _log_end(run)
        return eid

    # -- helpers -------------------------------------------------------------------------------

    def _workers(self) -> int:
        return self.config.number_of_workers or self.backend.default_workers()

    def _check_task(self, task: Callable[[Any], object]) -> None:
        if not callable(task):
            raise InvalidArgument(f"task must be callable, got {type(task).__name__}")
        check_one_argument(task)
        self.backend.check(self.store, task)

    def _launch(self, manifest: Manifest, task: Callable[[Any], object], taken: tuple[Claim, ...] = ()) -> Run:
        """Claim the new execution (with ``taken``, the claims taken to plan it), then start it;
        the backend releases the claims when the run ends, before anyone waiting wakes up."""
        try:
            claims = (*taken, self.store.claim(manifest.id))
        except BaseException:
            self._release(taken, None)
            raise
        ctx = BlockContext(self.store, manifest.id, task, self.config, self._clock)
        run = self._new_run(manifest, watch=False)
        self._launched_here.set(run)
        try:
            self.backend.launch(ctx, manifest, run, lambda error: self._end(run, claims, error))
        except BaseException:
            if run.status is Status.PENDING:  # the backend never took the run over: nobody else will
                self._release(claims, None)
            raise
        return run

    def _new_run(self, manifest: Manifest, *, watch: bool = True) -> Run:
        """The handle of ``manifest``'s execution (on Dask also a Dask future of its end), stopped
        past the tolerance its manifest records (an attached run is held to the tolerance it was
        started with). ``watch=False``: on Dask, the backend submits the future's task once it
        submitted the run's own."""
        eid, config = manifest.id, manifest.config
        client = self.backend.client
        on_cancel = functools.partial(self._cancel, eid)
        on_stop = functools.partial(self._stop_for, eid)
        if client is None:
            run = Run(eid, manifest.n_inputs, on_cancel=on_cancel, on_stop=on_stop)
        else:
            from .backends._dask_run import DaskRun

            run = DaskRun(client, eid, manifest.n_inputs, on_cancel=on_cancel, on_stop=on_stop, watch=watch)
        run.describe = functools.partial(self.summary, eid)
        run.draw = functools.partial(self.pictures, eid)
        run.tolerate(Tolerance(config.max_failures, config.max_failure_rate, manifest.n_inputs))
        return run

    def _stop_for(self, eid: str, stop: Stop) -> None:
        """Record why ``eid`` stops, then ask its workers to stop (a reader that sees them
        stopped finds the reason already there)."""
        write_stop(self.store, eid, stop)
        self._cancel(eid)

    def _end(self, run: Run, claims: tuple[Claim, ...], error: BaseException | None) -> None:
        """The run ended: record what interrupted it, then release its claims. An unreachable
        store takes the record once it is back, from a thread of its own: the run settles now."""
        stop = stop_for_error(error)
        if stop is not None and run.stopped_by is None:
            if isinstance(error, StoreUnreachable):
                threading.Thread(target=self._record_when_back, args=(run.id, stop),
                                 name=f"pylo-{run.id}-record-stop", daemon=True).start()
            else:
                self._record_stop(run.id, stop)
        self._release(claims, error)

    def _record_stop(self, eid: str, stop: Stop) -> bool:
        try:
            write_stop(self.store, eid, stop)  # False: a reason stood already, which is as good
            return True
        except PyloError:
            log.warning("execution %s: could not record that it stopped (%s)", eid, stop.message)
            return False

    def _record_when_back(self, eid: str, stop: Stop) -> None:
        """Try to record ``stop`` for up to ``STOP_RECORD_PATIENCE`` seconds (each try waits
        through the store's own retries); until then readers call the run interrupted anyway."""
        deadline = self._clock.monotonic() + STOP_RECORD_PATIENCE
        while not self._record_stop(eid, stop) and self._clock.monotonic() < deadline:
            self._clock.sleep(1.0)

    def _release(self, claims: tuple[Claim, ...], error: BaseException | None) -> None:
        for claim in claims:
            if isinstance(error, StoreUnreachable):  # writing would only wait through the retries
                self.store.abandon(claim)
            else:
                self.store.release(claim)

    def _blocking(self, start: Callable[[], Run], progress: bool) -> str:
        """Start a run and wait for it. A Ctrl-C that lands before the wait (while the run is
        being launched) stops the run too: the workers flush, then the interrupt propagates."""
        self._launched_here.set(None)
        try:
            return self._wait(start(), progress)
        except KeyboardInterrupt:
            run = self._launched()
            if run is not None:
                run.stop()
            raise

    def _launched(self) -> Run | None:
        """The run this thread launched last (``None`` before ``_blocking`` launched one)."""
        return self._launched_here.get()

    def _wait(self, run: Run, progress: bool) -> str:
        with follow(run, enabled=progress, dashboard=self.backend.dashboard_link) as bar:
            eid = run.wait()
            ended = run.progress()
            # a worker gives up at a failed input: a run whose inputs all finished has none to name
            gave_up = [] if ended.failed == 0 and ended.pending == 0 else self._gave_up(eid)
            if bar is not None and gave_up:
                bar.show_gave_up(len(gave_up))
        _log_end(run)
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
        self.backend.cancel_queued(execution_id)  # Dask: what has not started is cancelled at once


def _log_end(run: Run) -> None:
    p = run.progress()
    log.info("execution %s %s: %s finished, %s failed, %s pending of %s",
             run.id, run.status.value, count(p.finished), count(p.failed), count(p.pending), count(p.total))


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


def _settings(
    store: str | os.PathLike[str] | None,
    storage_options: dict[str, Any] | None,
    store_retry_seconds: float | None,
    *,
    options: dict[str, Any] | Options,
    **named: Any,
) -> tuple[Store, Config]:
    """The store and Config of both constructors: the arguments given, then the Dask config's
    ``pylo:`` section, then pylo's defaults."""
    explicit = {"store": store, "storage_options": storage_options, "store_retry_seconds": store_retry_seconds,
                **named, **_checked(options)}
    merged = merge(explicit, configured((*CONSTRUCTOR_KEYS, *OPTION_KEYS)))
    url = merged.pop("store", None)
    if url is None:
        raise InvalidArgument("store must be a path or an fsspec URL, got None: pass one, or set pylo.store in "
                              "the Dask config (e.g. DASK_PYLO__STORE=s3://bucket/runs)")
    opened = Store(url, merged.pop("storage_options", None),
                   retry_for=merged.pop("store_retry_seconds", DEFAULT_RETRY_SECONDS))
    return opened, _store_cadence(Config(**merged), opened, merged)


def _store_cadence(config: Config, store: Store, given: dict[str, Any]) -> Config:
    """``config`` with the store's own request cadence for the periods the caller did not give:
    on an object store, at most one request every 5 s per worker (see ``pylo.store._cadence``)."""
    return config.replace(**defaults_for(store.files.local, given))


#: The constructors' named keyword arguments, listed with ``Options`` when a name is unknown.
_NAMED = ("number_of_workers", "max_worker_failures", "task_executions_before_flush", "store_exceptions",
          "storage_options", "store_retry_seconds")


def _checked(options: dict[str, Any] | Options) -> dict[str, Any]:
    unknown = set(options) - set(Options.__annotations__)
    if unknown:
        known = sorted({*Options.__annotations__, *_NAMED})
        raise InvalidArgument(f"unknown option(s) {sorted(unknown)}; known: {', '.join(known)}")
    return dict(options)
