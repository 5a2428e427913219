"""The engine's one process pool, shared by every process job, that can kill one running job.

    submit(call) ──► queue ──► driver thread i ──pipe──► worker process i   (spawned lazily, reused)
                                      ◄── outcome ──┘
    kill(task)  — SIGKILL the process running ``task``; its driver sees the pipe close and starts
                  a fresh process for the next job. The other jobs are not disturbed.

Unlike ``concurrent.futures.ProcessPoolExecutor``, one dead worker does not break the pool.
Processes are started with ``spawn`` (no fork of a threaded process) and are daemons.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from collections.abc import Callable
from typing import Any

import cloudpickle

from . import _process_worker
from ..errors import JobError
from ._outcome import Outcome
from ._workers import WorkerCount

__all__ = ["ProcessPool", "ProcessTask"]

log = logging.getLogger(__name__)


class ProcessTask:
    """One call in the pool; ``kill()`` it through the pool."""

    __slots__ = ("payload", "on_done", "killed", "driver")

    def __init__(self, payload: bytes, on_done: Callable[[Outcome], None]) -> None:
        self.payload, self.on_done = payload, on_done
        self.killed = False
        self.driver: _ProcessFeeder | None = None


class ProcessPool:
    """At most ``max_workers`` worker processes, each driven by one thread of this process."""

    def __init__(self, max_workers: int, *, start_method: str = "spawn") -> None:
        self.max_workers = max_workers
        self._ctx: Any = multiprocessing.get_context(start_method)
        self._queue: queue.SimpleQueue[ProcessTask | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._drivers: list[_ProcessFeeder] = []
        self._count = WorkerCount(max_workers)
        self._closed = False

    def submit(self, call: Callable[[], Any], on_done: Callable[[Outcome], None]) -> ProcessTask:
        """Queue ``call`` (cloudpickled now: raises if it cannot be); ``on_done`` runs on a
        driver thread."""
        task = ProcessTask(bytes(cloudpickle.dumps(call)), on_done)
        with self._lock:
            if self._closed:
                raise RuntimeError("process pool is closed")
            if self._count.task_queued():
                driver = _ProcessFeeder(self)
                self._drivers.append(driver)
                driver.thread.start()
        self._queue.put(task)
        return task

    def kill(self, task: ProcessTask) -> None:
        """Stop ``task``: a queued one never runs, a running one's process is killed."""
        with self._lock:
            task.killed = True
            if task.driver is not None:
                task.driver.kill()

    def pids(self) -> list[int]:
        """The ids of the live worker processes."""
        with self._lock:
            return [d.process.pid for d in self._drivers if d.process is not None and d.process.pid is not None]

    def shutdown(self) -> None:
        """Stop every worker process and driver thread."""
        with self._lock:
            self._closed = True
            drivers = list(self._drivers)
        for _ in drivers:
            self._queue.put(None)
        for driver in drivers:
            with self._lock:
                driver.kill()
            driver.thread.join()


class _ProcessFeeder:
    """One thread that feeds one worker process, restarting it after it dies."""

    def __init__(self, pool: ProcessPool) -> None:
        self.pool = pool
        self.process: Any = None
        self.conn: Any = None
        self.task: ProcessTask | None = None
        self.doomed = False
        self.thread = threading.Thread(target=self._drive, name="pylo-engine-process-driver", daemon=True)

    def kill(self) -> None:
        """SIGKILL the process of the running task (call with the pool's lock held)."""
        process = self.process
        if process is not None and self.task is not None:
            self.doomed = True
            try:
                process.kill()
            except (ValueError, OSError):  # already closed or reaped: nothing left to stop
                pass

    def _drive(self) -> None:
        pool = self.pool
        while True:
            task = pool._queue.get()
            if task is None:
                self._stop_process()
                return
            with pool._lock:
                pool._count.task_taken()
                skip = task.killed
                if not skip:
                    self.task, task.driver = task, self
            if not skip:
                outcome = self._run(task)
                with pool._lock:
                    self.task, task.driver = None, None
                if not task.killed:
                    task.on_done(outcome)
            with pool._lock:
                pool._count.task_ended()

    def _run(self, task: ProcessTask) -> Outcome:
        try:
            if self.doomed:
                self.doomed = False
                self._stop_process()
            if self.process is None or not self.process.is_alive():
                self._start_process()
            with self.pool._lock:  # a kill that came before the process existed found nothing to kill
                if task.killed:
                    return Outcome("failed", JobError("the job was killed before it started", "Killed"))
            self.conn.send_bytes(task.payload)
            return Outcome(*cloudpickle.loads(self.conn.recv_bytes()))
        except (EOFError, OSError):
            code = self._stop_process()
            return Outcome("failed", JobError(f"WorkerProcessDied: the job's process exited with code {code}", "WorkerProcessDied"))
        except Exception as exc:  # noqa: BLE001 - e.g. a result whose class cannot be imported here
            return Outcome("failed", exc)

    def _start_process(self) -> None:
        parent, child = self.pool._ctx.Pipe()
        process = self.pool._ctx.Process(target=_process_worker.main, args=(child,), daemon=True)
        process.start()
        child.close()
        self.process, self.conn = process, parent
        log.debug("process worker %s started", process.pid)

    def _stop_process(self) -> int | None:
        process, conn = self.process, self.conn
        self.process = self.conn = None
        self.doomed = False
        if process is None:
            return None
        conn.close()
        process.join(5)
        if process.is_alive():
            try:
                process.kill()
            except OSError:  # reaped by someone else already
                pass
            process.join(5)
        code: int | None = process.exitcode
        try:
            process.close()
        except ValueError:  # its exit was collected elsewhere: nothing to release
            log.debug("worker process %s could not be closed", process.pid)
        return code
