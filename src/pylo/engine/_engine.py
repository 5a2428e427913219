"""``Engine``: runs jobs of every kind under limits and conditions, from sync or async code.

    caller threads / asyncio loops ──submit, cancel, rerun──► engine loop thread (the scheduler)
                                                                 ├─► thread pool   (ThreadJob)
                                                                 ├─► process pool  (ProcessJob, WebappJob)
                                                                 ├─► Dask client   (DaskJob)
                                                                 └─► subprocesses, executions
    job futures (concurrent.futures) ◄── results ──┘

The engine owns its loop thread, pools and (unless given one) Dask client, and closes them all in
``stop()``. It writes nothing to disk unless ``store`` is given; then job records go to
``{store}/jobs/``, and a restarted engine on the same store lists them and re-submits the
unfinished jobs it can rebuild.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from .._status import Status
from ..errors import InvalidArgument
from ._timers import EngineClock, LoopClock
from ._core import Scheduler
from ._errors import JobNotFound
from ._extend import finish_off
from ._job import Job, JobFuture
from ._process_pool import ProcessPool
from ._job_records import JobRecord, RecordStore, rebuild, record_of, spec_of
from ._slots import Slots
from ._thread_pool import ThreadPool

__all__ = ["Engine", "EngineConfig"]

log = logging.getLogger("pylo.engine")
T = TypeVar("T")


def _default_limits() -> dict[str, int | None]:
    cpus = os.cpu_count() or 1
    return {"thread": min(32, cpus + 4), "process": cpus}


@dataclasses.dataclass(frozen=True, kw_only=True)
class EngineConfig:
    """``max_jobs``: jobs running at once in total (``None``: no limit). ``limits``: the same per
    kind (``"thread"``, ``"process"``, ``"dask"``, ``"local"``, ``"subprocess"``, ``"webapp"``,
    ``"execution"``); the thread and process limits are also the sizes of the shared pools
    (default: min(32, CPUs + 4) threads, CPUs processes)."""

    max_jobs: int | None = None
    limits: Mapping[str, int | None] = dataclasses.field(default_factory=dict)

    def slots(self) -> Slots:
        per_kind = {**_default_limits(), **dict(self.limits)}
        for kind in ("thread", "process"):
            if per_kind.get(kind) is None:
                per_kind[kind] = _default_limits()[kind]
        return Slots(self.max_jobs, per_kind)


class Engine(Scheduler):
    """Runs jobs. ``with Engine() as engine: engine.submit(job); engine.wait()``.

    Keyword arguments: ``max_jobs``, ``limits`` (see ``EngineConfig``); ``store`` and
    ``storage_options`` (a path or fsspec URL where job records are kept); ``dask_client`` (a
    ``distributed.Client`` or address for ``DaskJob``s; by default a local cluster is started on
    first use and closed with the engine); ``clock`` (an ``EngineClock``, for tests).
    """

    def __init__(
        self,
        *,
        max_jobs: int | None = None,
        limits: Mapping[str, int | None] | None = None,
        store: str | os.PathLike[str] | None = None,
        storage_options: dict[str, Any] | None = None,
        dask_client: Any = None,
        clock: EngineClock | None = None,
    ) -> None:
        self.config = EngineConfig(max_jobs=max_jobs, limits=dict(limits or {}))
        records = None if store is None else RecordStore(store, storage_options)
        super().__init__(self.config.slots(), records)
        self.loop = asyncio.new_event_loop()
        self.clock = clock or LoopClock(self.loop)
        self._thread: threading.Thread | None = None
        self._state = "new"
        self._life = threading.Lock()
        self._threads: ThreadPool | None = None
        self._processes: ProcessPool | None = None
        self._client = dask_client
        self._client_checked = False
        self._owned: list[Any] = []
        self._restored: dict[str, JobRecord] = {}

    def __repr__(self) -> str:
        return f"<Engine {self._state}: {len(self.jobs)} jobs>"

    @property
    def running(self) -> bool:
        return self._state == "running"

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Engine:
        """Start the engine's loop thread (``submit`` does it when needed); with a store, reload
        its job records and re-submit the unfinished jobs that can be rebuilt."""
        with self._life:
            if self._state == "running":
                return self
            if self._state == "stopped":
                raise RuntimeError("a stopped engine cannot be started again; create a new one")
            ready = threading.Event()
            self._thread = threading.Thread(target=self._serve, args=(ready,), name="pylo-engine-loop", daemon=True)
            self._thread.start()
            ready.wait()
            if self.record_store is not None:
                self._writes = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pylo-engine-records")
            self._state = "running"
        if self.record_store is not None:
            self._on_loop(self._restore)
        return self

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self._loop_thread = threading.get_ident()
        self.loop.call_soon(ready.set)
        self.loop.run_forever()

    def stop(self) -> None:
        """Cancel what is still pending or running (their records stay unfinished, so an engine
        restarted on the same store takes them up again), then close the loop, pools and an
        owned Dask client. Raises ``RuntimeError`` when called from inside a job on the loop."""
        with self._life:
            if self._state != "running":
                self._state = "stopped"
                return
            if threading.get_ident() == self._loop_thread:
                raise RuntimeError("Engine.stop() cannot be called from the engine's own loop")
            handles = self._on_loop(self._cancel_all, "engine stopped")
            finish_off(handles)  # a command deaf to SIGTERM is killed here, not by a loop timer
            self.loop.call_soon_threadsafe(self.loop.stop)
            assert self._thread is not None
            self._thread.join()
            self.loop.close()
            self._state = "stopped"
        self._close_resources()

    def _cancel_all(self, reason: str) -> list[Any]:
        """Cancel every job; return the handles of every job's latest attempt (a command
        cancelled just before may still be in its grace period, too)."""
        self._stopping = True
        handles = [job._handle for job in self.jobs.values() if job._handle is not None]
        for job in list(self.jobs.values()):
            self._cancel(job, reason)
        return handles

    def _close_resources(self) -> None:
        for pool in (self._threads, self._processes, self._writes):
            if pool is not None:
                pool.shutdown()
        for thing in reversed(self._owned):
            try:
                thing.close()
            except Exception:  # noqa: BLE001 - closing a local cluster is best effort
                log.exception("closing %r failed", thing)
        self._owned.clear()

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- resources lent to jobs (created on first use) -------------------------------------------

    def thread_pool(self) -> ThreadPool:
        if self._threads is None:
            self._threads = ThreadPool(self.slots.per_kind["thread"] or 1)
        return self._threads

    def process_pool(self) -> ProcessPool:
        if self._processes is None:
            self._processes = ProcessPool(self.slots.per_kind["process"] or 1)
        return self._processes

    def dask_client(self) -> Any:
        """The Dask client for ``DaskJob``s (started on first use unless one was given)."""
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

    # -- submitting and controlling jobs --------------------------------------------------------------

    def submit(self, job: Job) -> JobFuture:
        """Queue ``job`` and return its future at once. Raises ``InvalidArgument`` for a job that is
        not a ``Job`` or was already submitted (use ``rerun``)."""
        if not isinstance(job, Job):
            raise InvalidArgument(f"submit takes a Job, got {type(job).__name__}")
        if job._engine is not None:
            raise InvalidArgument(f"job {job.id} was already submitted; use engine.rerun(job) to run it again")
        self.start()
        if job.kind == "dask" and threading.get_ident() != self._loop_thread:
            self.dask_client()  # a local cluster is started here, not on the loop thread
        job._engine = self
        job.submitted = time.time()
        if self.record_store is not None:  # recorded before submit returns: a crash cannot lose it
            job._spec_blob = spec_of(job)
            self.record_store.write(record_of(job), job._spec_blob)
        self._inc()
        self._handover(self._accept, job)
        return job.future

    async def submit_async(self, job: Job) -> JobFuture:
        """``submit`` for async code (it never blocks: the same call)."""
        return self.submit(job)

    def cancel(self, job: Job | str, reason: str = "cancelled by user") -> bool:
        """Cancel a pending or running job; a running process or subprocess is stopped, a running
        thread is left to end on its own while its slot is freed. False if it already ended."""
        return bool(self._on_loop(lambda: self._cancel(self._job(job), reason)))

    def cancel_all(self) -> None:
        self._on_loop(lambda: [self._cancel(j, "cancelled by user") for j in list(self.jobs.values())])

    def rerun(self, job: Job | str) -> JobFuture:
        """Run a job that ended (done, failed or cancelled) again; returns its new future."""
        return self._on_loop(lambda: self._rerun(self._job(job)))

    def _job(self, job: Job | str) -> Job:
        if isinstance(job, Job):
            if job._engine is not self:
                raise JobNotFound(f"job {job.id} was not submitted to this engine")
            return job
        try:
            return self.jobs[job]
        except KeyError:
            raise JobNotFound(f"no job {job!r} in this engine") from None

    def _on_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the loop thread and return its result (blocking the caller)."""
        if self._state != "running" or self.loop.is_closed():
            raise RuntimeError("the engine is not running")
        if threading.get_ident() == self._loop_thread:
            return fn(*args)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                future.set_exception(exc)

        self._handover(call)  # through the inbox: after every hand-over made before it
        return future.result()

    # -- waiting ---------------------------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> None:
        """Block until every submitted job has ended (retries included). ``TimeoutError`` after
        ``timeout`` seconds."""
        self._not_on_loop("wait")
        future = self._idle_future()
        if future is not None:
            future.result(timeout)

    def wait_job(self, job: Job, timeout: float | None = None) -> Status:
        """Block until ``job`` has ended for good (across its retries); return its status."""
        self._not_on_loop("wait_job")
        done, _ = concurrent.futures.wait([job.future], timeout)
        if not done:
            raise TimeoutError(f"job {job.id} still {job.status.value} after {timeout}s")
        return job.status

    def _not_on_loop(self, what: str) -> None:
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError(f"engine.{what}() inside a LocalJob or a callback would wait forever")

    async def join(self, jobs: Iterable[Job] | None = None, timeout: float | None = None) -> None:
        """Await the end of ``jobs`` (default: every job), from any event loop."""
        if jobs is None:
            future = self._idle_future()
            if future is not None:
                await asyncio.wait_for(asyncio.wrap_future(future), timeout)
            return
        waits = [asyncio.wrap_future(j.future) for j in jobs]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=timeout)
            if pending:
                raise TimeoutError(f"{len(pending)} jobs still running after {timeout}s")

    async def wait_async(self, job: Job | None = None, timeout: float | None = None) -> None:
        """``join`` of one job, or of all of them."""
        await self.join(None if job is None else [job], timeout)

    # -- reading -----------------------------------------------------------------------------------------

    def job_ids(self) -> list[str]:
        return list(self.jobs)

    def get_job(self, job_id: str) -> Job:
        """The job with that id; ``JobNotFound`` if none was submitted here."""
        return self._on_loop(self._job, job_id) if self._state == "running" else self._job(job_id)

    def records(self) -> list[JobRecord]:
        """What this engine knows: its jobs, and the records found in its store at start."""
        if self._state != "running":
            return [record_of(j) for j in self.jobs.values()]
        found = self._on_loop(lambda: [*self._restored.values(), *(record_of(j) for j in self.jobs.values())])
        return sorted(found, key=lambda r: r.created)

    # -- restart -----------------------------------------------------------------------------------------

    def _restore(self) -> None:
        assert self.record_store is not None
        unfinished = []
        for record, spec in self.record_store.read_all():
            if record.id in self.statuses:
                continue
            if record.status.settled:
                self.statuses[record.id] = record.status
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
            self.statuses[record.id] = Status.FAILED
            self._restored[record.id] = failed
            assert self.record_store is not None  # restoring means reading one
            self._writes.submit(self.record_store.write, failed, spec)
            log.warning("job %s (%s) could not be re-submitted: %s", record.name, record.id, exc)
            return
        log.info("job %s (%s) re-submitted from the store", job.name, job.id)
        job._engine = self
        job.submitted = time.time()
        self._inc()
        self._accept(job)
