"""``Engine``: runs jobs of every kind under limits and conditions, from sync or async code.

    caller threads / asyncio loops ──submit, cancel, rerun──► engine loop thread (the scheduler)
                                                                 ├─► thread pool   (ThreadJob)
                                                                 ├─► process pool  (ProcessJob, WebappJob)
                                                                 ├─► Dask client   (DaskJob)
                                                                 └─► subprocesses, executions
    job futures (concurrent.futures) ◄── results ──┘

The engine has a ``Scheduler`` (``_scheduler``: the job state machine, which stands alone), and
owns the loop thread it runs on, the pools and (unless given one) the Dask client it lends the
jobs, and closes them all in ``stop()``. It writes nothing to disk unless ``store`` is given; then job records go to
``{store}/jobs/``, and a restarted engine on the same store lists them and re-submits the
unfinished jobs it can rebuild.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import dataclasses
import inspect
import logging
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .._core.status import Status
from ..errors import InvalidArgument, InvalidStateError
from ._timers import EngineClock, LoopClock
from ._scheduler import Scheduler, Stats
from ..errors import JobNotFound
from ._extend import finish_off
from ._checks import check_timeout
from ._job import Job, JobFuture, awaitable, new_job_id
from ._jobs import Jobs
from ._process_pool import ProcessPool
from ._job_records import JobRecord, RecordStore, RecordWriter, rebuild, record_of, spec_of
from ._setting import EngineSetting
from ._slots import Slots
from ._thread_pool import ThreadPool

__all__ = ["Engine", "EngineSetting", "get_default_engine"]

log = logging.getLogger("pylo.engine")
T = TypeVar("T")


_UNSET: Any = object()
_defaults: list[Engine] = []  # the engines of the enclosing ``with`` blocks, innermost last
_default_lock = threading.Lock()


class Engine:
    """Runs jobs. ``with Engine() as engine: engine.submit(job); engine.wait()``.

    ``setting`` is an ``EngineSetting``; ``max_jobs`` and ``limits`` given here override its
    fields. Keyword arguments of pylo's own: ``store`` and ``storage_options`` (a path or fsspec
    URL where job records are kept); ``dask_client`` (a ``distributed.Client``, synchronous or
    asynchronous, or an address, for ``DaskJob``s; by default a local cluster is started on first
    use and closed with the engine); ``clock`` (an ``EngineClock``, for tests).
    """

    def __init__(
        self,
        setting: EngineSetting | None = None,
        *,
        max_jobs: int | None = _UNSET,
        limits: Mapping[str, int | None] | None = None,
        store: str | os.PathLike[str] | None = None,
        storage_options: dict[str, Any] | None = None,
        dask_client: Any = None,
        clock: EngineClock | None = None,
    ) -> None:
        if setting is not None and not isinstance(setting, EngineSetting):
            raise InvalidArgument(f"setting must be an EngineSetting, got {setting!r}")
        setting = dataclasses.replace(setting) if setting is not None else EngineSetting()
        if max_jobs is not _UNSET:
            setting.max_jobs = max_jobs
        if limits is not None:
            setting.limits = {**setting.limits, **dict(limits)}
        self.setting = setting
        self.record_store = None if store is None else RecordStore(store, storage_options)
        self._scheduler = Scheduler(setting.slots(), self, engine=self)
        self._scheduler.print_traceback = bool(setting.print_traceback)
        self.id = new_job_id()
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of the latest start
        self._records: RecordWriter | None = None  # writes job records while running, with a store
        self._clock_given = clock
        self._thread: threading.Thread | None = None
        self._phase = "new"
        self._life = threading.Lock()
        self._threads: ThreadPool | None = None
        self._processes: ProcessPool | None = None
        self._client = dask_client
        self._client_checked = False
        self._owned: list[Any] = []
        self._restored: dict[str, JobRecord] = {}
        self._cache_dir: Path | None = None

    def __repr__(self) -> str:
        return f"<Engine id={self.id[:8]} {self._phase}: {len(self.jobs)} jobs>"

    @property
    def running(self) -> bool:
        return self._phase == "running"

    @property
    def jobs(self) -> Jobs:
        """The jobs of this engine: iterate it, test ``job in engine.jobs``, or read
        ``engine.jobs.pending`` / ``.running`` / ``.done`` / ``.failed`` / ``.cancelled``."""
        return Jobs(self._scheduler.jobs)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the engine's thread runs (of its latest start; closed once stopped).
        ``InvalidStateError`` before the engine was ever started or given one. Settable, as in
        executor-engine, before a start: the engine then runs (and at its stop closes) that loop."""
        if self._loop is None:
            raise InvalidStateError(f"{self!r} was never started: it has no loop yet")
        return self._loop

    @loop.setter
    def loop(self, loop: asyncio.AbstractEventLoop) -> None:
        if not isinstance(loop, asyncio.AbstractEventLoop):
            raise InvalidArgument(f"loop must be an asyncio event loop, got {loop!r}")
        if self.running:
            raise InvalidStateError(f"{self!r} is running: its loop can be set only before it starts")
        self._loop = loop

    @property
    def clock(self) -> EngineClock:
        """The engine's clock, once started: the one given to the constructor, else the wall clock."""
        return self._scheduler.clock

    @property
    def slots(self) -> Slots:
        """The concurrency limits, and how many jobs hold a slot now."""
        return self._scheduler.slots

    @property
    def stats(self) -> Stats:
        """How the engine woke up: condition checks, deadline timers, polls, retries."""
        return self._scheduler.stats

    @property
    def print_traceback(self) -> bool:
        """Whether each failed job's traceback is logged."""
        return self._scheduler.print_traceback

    @print_traceback.setter
    def print_traceback(self, value: bool) -> None:
        self._scheduler.print_traceback = bool(value)

    # -- what conditions ask (the engine is their context) -------------------------------------

    def job_status(self, job_id: str) -> Status | None:
        return self._scheduler.job_status(job_id)

    def time(self) -> float:
        return self._scheduler.time()

    async def sleep_until(self, when: float) -> None:
        """On the loop: return at ``when`` by the engine's clock (an injected clock moves it)."""
        await self._scheduler.sleep_until(when)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Engine:
        """Start the engine's loop thread (``submit`` does it when needed; a stopped engine
        starts again); with a store, reload its job records and re-submit the unfinished jobs
        that can be rebuilt."""
        with self._life:
            if self._phase == "running":
                log.debug("%r is already running", self)
                return self
            given = self._loop
            loop = self._loop = given if given is not None and _usable(given) else asyncio.new_event_loop()
            clock = self._clock_given or LoopClock(loop)
            if self.record_store is not None:
                self._records = RecordWriter(self.record_store)
            ready = threading.Event()
            self._thread = threading.Thread(
                target=self._serve, args=(loop, clock, ready), name="pylo-engine-loop", daemon=True,
            )
            self._thread.start()
            ready.wait()
            self._phase = "running"
        if self.record_store is not None:
            try:
                self._on_loop(self._restore)
            except BaseException:
                self.stop()  # never leave a loop thread behind a failed start
                raise
        return self

    def _serve(self, loop: asyncio.AbstractEventLoop, clock: EngineClock, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        self._scheduler.open(loop, clock, self._records)
        loop.call_soon(ready.set)
        loop.run_forever()

    def stop(self) -> None:
        """Cancel what is still pending or running (their records stay unfinished, so an engine
        restarted on the same store takes them up again), then close the loop, pools and an
        owned Dask client. Stopping an engine that is not running does nothing. Raises
        ``RuntimeError`` when called from inside a job on the loop."""
        with self._life:
            if self._phase != "running":
                log.debug("%r is not running: nothing to stop", self)
                return
            if threading.get_ident() == self._scheduler.loop_thread:
                raise RuntimeError("Engine.stop() cannot be called from the engine's own loop")
            handles = self._on_loop(self._cancel_all, "engine stopped")
            finish_off(handles)  # a command deaf to SIGTERM is killed here, not by a loop timer
            assert self._thread is not None
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
            self._scheduler.close()
            self.loop.close()
            self._phase = "stopped"
        self._close_resources()

    def _cancel_all(self, reason: str) -> list[Any]:
        """Cancel every job, leaving their records unfinished (see ``stop``)."""
        if self._records is not None:
            self._records.mute()
        return self._scheduler.cancel_all(reason)

    def _close_resources(self) -> None:
        for pool in (self._threads, self._processes, self._records):
            if pool is not None:
                pool.shutdown()
        self._threads = self._processes = self._records = None
        for thing in reversed(self._owned):
            try:
                thing.close()
            except Exception:  # noqa: BLE001 - closing a local cluster is best effort
                log.exception("closing %r failed", thing)
        if self._owned:
            self._client, self._client_checked = None, False
        self._owned.clear()

    def __enter__(self) -> Engine:
        self.start()
        with _default_lock:
            _defaults.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        with _default_lock:
            if self in _defaults:
                _defaults.remove(self)
        self.stop()

    # -- resources lent to jobs (created on first use) -------------------------------------------

    def thread_pool(self) -> ThreadPool:
        if self._threads is None:
            self._threads = ThreadPool(self.setting.pool_size("thread"))
        return self._threads

    def process_pool(self) -> ProcessPool:
        if self._processes is None:
            self._processes = ProcessPool(self.setting.pool_size("process"))
        return self._processes

    @property
    def dask_client(self) -> Any:
        """The Dask client for ``DaskJob``s (a local cluster is started on first use unless one
        was given to ``Engine(dask_client=...)``, synchronous or asynchronous). Settable, as in
        executor-engine, to an asynchronous ``distributed.Client`` only: a synchronous one is
        refused with ``InvalidArgument`` (a ``ValueError``); give it to the constructor instead."""
        if not self._client_checked:
            from . import _dask_client as _dask

            if self._client is None:
                self._client, self._owned = _dask.make_client()
            elif isinstance(self._client, str):
                self._client = _dask.check_client(self._client)
                self._owned = [self._client]
            else:
                self._client = _dask.check_client(self._client)
            self._client_checked = True
        return self._client

    @dask_client.setter
    def dask_client(self, client: Any) -> None:
        from . import _dask_client as _dask

        self._client = _dask.check_asynchronous_client(client)
        self._client_checked = True

    def get_cache_dir(self) -> Path:
        """The folder that holds each job's ``cache_dir`` (made on first use)."""
        if self._cache_dir is None:
            path = self.setting.cache_path
            folder = Path(path) if path is not None else Path(tempfile.gettempdir()) / f"pylo-engine-{self.id}"
            folder.mkdir(parents=True, exist_ok=True)
            self._cache_dir = folder
        return self._cache_dir

    @property
    def cache_dir(self) -> Path:
        return self.get_cache_dir()

    # -- submitting and controlling jobs --------------------------------------------------------------

    def submit(self, *jobs: Job) -> Any:
        """Queue ``jobs`` and return once the engine has taken them in: each is in
        ``engine.jobs``, and running already if it could start. Returns the job's future (a list
        of them for several jobs). A job that ended is run again; one still pending or running,
        or one of another engine, is refused with ``InvalidArgument``. ``InvalidStateError`` (a
        ``RuntimeError``) if the engine is not running: start it first (``with Engine() as
        engine``, or ``engine.start()``), as with executor-engine."""
        for job in jobs:
            self._check_submittable(job)
        if not self.running:
            raise InvalidStateError(
                f"{self!r} is not running: use it as a context manager (with Engine() as engine) "
                "or call engine.start() before submitting jobs"
            )
        if any(job.kind == "dask" for job in jobs) and threading.get_ident() != self._scheduler.loop_thread:
            _ = self.dask_client  # a local cluster is started here, not on the loop thread
        fresh = [job for job in jobs if job.engine is None]
        for job in fresh:
            self._prepare(job)
        self._on_loop(self._scheduler.take, list(jobs))
        futures = [job.future for job in jobs]
        return futures[0] if len(futures) == 1 else futures

    def _check_submittable(self, job: Job) -> None:
        if not isinstance(job, Job):
            raise InvalidArgument(f"submit takes jobs, got {type(job).__name__}")
        if job.engine is not None and job.engine is not self:
            raise InvalidArgument(f"job {job.id} was submitted to another engine")
        if job.engine is self and not job.status.settled:
            raise InvalidArgument(f"job {job.id} is already {job.status.value} in this engine")

    def _prepare(self, job: Job) -> None:
        job._engine = self
        job._state.submitted = time.time()
        key = self.setting.kwargs_inject_key
        if key and key not in job.kwargs and _takes(job.func, key):
            job.kwargs[key] = self
        if self.record_store is not None:  # recorded before submit returns: a crash cannot lose it
            job._state.spec = spec_of(job)
            self.record_store.write(record_of(job), job._state.spec)

    async def submit_async(self, *jobs: Job) -> Any:
        """``submit`` for async code: the engine's own loop runs the jobs, so any event loop may
        await them; it is started if needed (and stopped at exit if nobody stops it)."""
        if self._phase != "running":
            self.start()
            atexit.register(_stop_at_exit, weakref.ref(self))
        return self.submit(*jobs)

    def cancel(self, *jobs: Job | str, reason: str = "cancelled by user") -> bool:
        """Cancel pending or running jobs; a running process or subprocess is stopped, a running
        thread is left to end on its own while its slot is freed. True if any was cancelled."""
        return any(self._on_loop(lambda: [self._scheduler.cancel(self._job(j), reason) for j in jobs]))

    def cancel_all(self) -> None:
        """Cancel every pending and running job."""
        if self.running:
            self._on_loop(self._scheduler.cancel_all, "cancelled by user")

    async def cancel_all_async(self) -> None:
        self.cancel_all()

    def remove(self, job: Job | str) -> None:
        """Cancel ``job`` if it has not ended, and forget it."""
        found = self._job(job)
        if self.running:
            self._on_loop(self._scheduler.remove, found)
        else:
            self._scheduler.jobs.pop(found.id, None)

    def rerun(self, job: Job | str) -> JobFuture[Job]:
        """Run a job that ended (done, failed or cancelled) again; returns its new future."""
        return self._on_loop(lambda: self._scheduler.rerun(self._job(job)))

    def _job(self, job: Job | str) -> Job:
        if isinstance(job, Job):
            if job.engine is not self:
                raise JobNotFound(f"job {job.id} was not submitted to this engine")
            return job
        try:
            return self._scheduler.jobs[job]
        except KeyError:
            raise JobNotFound(f"no job {job!r} in this engine") from None

    def _on_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the loop thread and return its result (blocking the caller)."""
        if self._phase != "running" or self.loop.is_closed():
            raise InvalidStateError(f"{self!r} is not running")
        return self._scheduler.call(fn, *args)

    # -- waiting ---------------------------------------------------------------------------------------

    def wait(
        self, timeout: float | None = None, time_delta: float = 0.2,
        select_jobs: Callable[[Jobs], Iterable[Job]] | None = None,
    ) -> bool:
        """Block until every job has ended (retries included), or those ``select_jobs(jobs)``
        returns (asked again whenever one of them ends), or ``timeout`` seconds have passed.
        Returns whether they all ended (on a timeout it returns False, as executor-engine's
        returns). ``time_delta`` is accepted and unused: nothing is polled."""
        self._not_on_loop("wait")
        timeout = check_timeout(timeout)
        if select_jobs is not None:
            return self._wait_selected(select_jobs, timeout)
        future = self._scheduler.unsettled.when_idle()
        if future is None:
            return True
        done, _ = concurrent.futures.wait([future], timeout)
        if done:
            future.result()  # raises the error that broke the scheduler, if one did
        return bool(done)

    def _wait_selected(self, select: Callable[[Jobs], Iterable[Job]], timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            futures = [job.future._cf for job in select(self.jobs)]
            if not futures:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            concurrent.futures.wait(futures, left, return_when=concurrent.futures.FIRST_COMPLETED)

    def wait_job(self, job: Job, timeout: float | None = None) -> Any:
        """Block until ``job`` has ended for good (across its retries) or ``timeout`` seconds
        have passed; return its result if it is done, else ``None`` (as executor-engine's)."""
        self._not_on_loop("wait_job")
        concurrent.futures.wait([job.future._cf], check_timeout(timeout))
        return job.result() if job.status is Status.DONE else None

    def _not_on_loop(self, what: str) -> None:
        if threading.get_ident() == self._scheduler.loop_thread:
            raise RuntimeError(f"engine.{what}() inside a LocalJob or a callback would wait forever")

    async def join(self, jobs: Iterable[Job] | None = None, timeout: float | None = None) -> bool:
        """Await the end of ``jobs`` (default: every job), from any event loop; returns whether
        they all ended within ``timeout`` (a timeout is not an error, as in executor-engine)."""
        timeout = check_timeout(timeout)
        if jobs is None:
            future = self._scheduler.unsettled.when_idle()
            if future is None:
                return True
            done, pending = await asyncio.wait([awaitable(future)], timeout=timeout)
            for ended in done:
                ended.result()  # raises the error that broke the scheduler, if one did
            return not pending
        waits = [awaitable(j.future._cf) for j in jobs]
        if not waits:
            return True
        _, pending = await asyncio.wait(waits, timeout=timeout)
        return not pending

    async def wait_async(
        self, timeout: float | None = None, time_delta: float = 0.2,
        select_jobs: Callable[[Jobs], Iterable[Job]] | None = None,
    ) -> bool:
        """``wait`` for async code."""
        timeout = check_timeout(timeout)
        if select_jobs is None:
            return await self.join(timeout=timeout)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            waits = [awaitable(job.future._cf) for job in select_jobs(self.jobs)]
            if not waits:
                return True
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)

    def status_change(self, job: Job, check: Callable[[Job], bool]) -> Awaitable[None]:
        """An awaitable that ends once ``check(job)`` holds, re-checked at each status change."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._scheduler.watch_status(job, check, future)
        return asyncio.wrap_future(future)

    # -- reading -----------------------------------------------------------------------------------------

    def job_ids(self) -> list[str]:
        return list(self._scheduler.jobs)

    def get_job(self, job_id: str) -> Job:
        """The job with that id; ``JobNotFound`` if none was submitted here."""
        return self._on_loop(self._job, job_id) if self._phase == "running" else self._job(job_id)

    def gated_on_dask(self, job: Job) -> bool:
        """Whether ``job`` (a ``DaskJob``) waits for its upstreams on the Dask scheduler itself."""
        return self._scheduler.gated_on_dask(job)

    def dask_key(self, job: Job) -> str | None:
        """The key of the Dask task of ``job``'s current attempt (a ``DaskJob``), once it has one."""
        return self._scheduler.dask_key(job)

    def records(self) -> list[JobRecord]:
        """What this engine knows: its jobs, and the records found in its store at start."""
        jobs = self._scheduler.jobs
        if self._phase != "running":
            return [record_of(j) for j in jobs.values()]
        found = self._on_loop(lambda: [*self._restored.values(), *(record_of(j) for j in jobs.values())])
        return sorted(found, key=lambda r: r.created)


    # -- restart -----------------------------------------------------------------------------------------

    def _restore(self) -> None:
        assert self.record_store is not None
        unfinished = []
        for record, spec in self.record_store.read_all():
            if self._scheduler.job_status(record.id) is not None:
                continue
            if record.status.settled:
                self._scheduler.know(record.id, record.status)
                self._restored[record.id] = record
            else:
                unfinished.append((record, spec))
        for record, spec in unfinished:
            self._resubmit(record, spec)

    def _resubmit(self, record: JobRecord, spec: bytes | None) -> None:
        try:
            if spec is None:
                raise LookupError(f"its function {record.func} cannot be imported by name")
            job = rebuild(record, spec)
        except Exception as exc:  # noqa: BLE001 - a job that cannot be rebuilt is recorded as failed
            failed = dataclasses.replace(
                record, status=Status.FAILED, stopped=time.time(),
                error=f"not re-submitted after a restart: {type(exc).__name__}: {exc}",
            )
            self._scheduler.know(record.id, Status.FAILED)
            self._restored[record.id] = failed
            assert self._records is not None  # restoring means reading a record store
            self._records.write(failed, spec)
            log.warning("job %s (%s) could not be re-submitted: %s", record.name, record.id, exc)
            return
        log.info("job %s (%s) re-submitted from the store", job.name, job.id)
        job._engine = self
        job._state.submitted = time.time()
        self._scheduler.take([job])


def _stop_at_exit(ref: weakref.ref[Engine]) -> None:
    engine = ref()
    if engine is not None:
        engine.stop()


def _usable(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether a start may run ``loop`` (one set by the user, not run nor closed yet)."""
    return not loop.is_closed() and not loop.is_running()


def _takes(func: Any, name: str) -> bool:
    """Whether ``func`` has a parameter called ``name``."""
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


def get_default_engine() -> Engine:
    """The engine of the innermost ``with Engine()`` block, else one engine of the process
    (created on first use; like any engine it takes jobs from ``submit`` once started, and
    ``submit_async`` starts it)."""
    global _process_engine
    with _default_lock:
        if _defaults:
            return _defaults[-1]
        if _process_engine is None:
            _process_engine = Engine()
        return _process_engine


_process_engine: Engine | None = None
