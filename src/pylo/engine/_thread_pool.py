"""The engine's one thread pool, shared by every thread job, that can *detach* a running task.

    submit(call, on_done) ──► queue ──► worker thread: on_done(outcome_of(call))
    detach(task)  — the task's thread is written off: it ends after the call returns, and the pool
                    may start a replacement at once, so a stuck cancelled job never costs a slot.

Python cannot stop a running thread; a cancelled thread job is detached instead. Threads are
daemons, so a detached thread that never returns does not keep the interpreter alive.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from ._outcome import Outcome, outcome_of
from ._workers import WorkerCount

__all__ = ["ThreadPool", "ThreadTask"]

log = logging.getLogger(__name__)

_QUEUED, _RUNNING, _ENDED = range(3)


class ThreadTask:
    """One call in the pool; ``detach()`` it through the pool."""

    __slots__ = ("call", "on_done", "state", "detached", "thread")

    def __init__(self, call: Callable[[], Any], on_done: Callable[[Outcome], None]) -> None:
        self.call, self.on_done = call, on_done
        self.state = _QUEUED
        self.detached = False
        self.thread: threading.Thread | None = None


class ThreadPool:
    """At most ``max_workers`` attached threads, started lazily and reused."""

    def __init__(self, max_workers: int, name: str = "pylo-engine") -> None:
        self.max_workers = max_workers
        self._name = name
        self._queue: queue.SimpleQueue[ThreadTask | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._count = WorkerCount(max_workers)
        self._closed = False
        self._threads: list[threading.Thread] = []

    def submit(self, call: Callable[[], Any], on_done: Callable[[Outcome], None]) -> ThreadTask:
        """Queue ``call``; ``on_done(outcome)`` runs on the worker thread when it ends."""
        task = ThreadTask(call, on_done)
        with self._lock:
            if self._closed:
                raise RuntimeError("thread pool is closed")
            if self._count.task_queued():
                self._spawn()
        self._queue.put(task)
        return task

    def detach(self, task: ThreadTask) -> None:
        """Forget ``task``: a queued one never runs; a running one's thread leaves the pool."""
        with self._lock:
            task.detached = True
            if task.state == _RUNNING and task.thread is not None:
                self._threads.remove(task.thread)
                if self._count.worker_left():
                    self._spawn()

    def shutdown(self) -> None:
        """Stop the attached threads once the queue is empty; detached ones end on their own."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join()

    def _spawn(self) -> None:
        """Start a thread the count has just added (call with the lock held)."""
        thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            task = self._queue.get()
            if task is None:
                return
            with self._lock:
                self._count.task_taken()
                skip = task.detached
                task.state = _ENDED if skip else _RUNNING
                task.thread = me
            if not skip:
                outcome = outcome_of(task.call)
                task.call = _done
                with self._lock:
                    task.state = _ENDED
                    gone = task.detached
                if not gone:
                    task.on_done(outcome)
                else:
                    log.debug("detached thread %s ended", me.name)
                    return
            with self._lock:
                self._count.task_ended()


def _done() -> None:
    """Placeholder call of a finished task, so it keeps no reference to the user's arguments."""
