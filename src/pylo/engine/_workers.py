"""How many workers a pool has and whether a queued task needs a new one (pure: no threads here).

Both engine pools (``_threads``, ``_processes``) feed their workers from one queue. A worker is
*free* from the moment it is started, or ends a task, until it takes the next task off the queue.
A task needs a new worker when the tasks waiting in the queue outnumber the free workers — a
free worker about to take another task does not count twice, and two tasks queued back to back
get two workers (while the pool is below its size).
"""

from __future__ import annotations

__all__ = ["WorkerCount"]


class WorkerCount:
    """The live, free and queued counts of one pool. Not thread-safe: the pool calls every method
    with its own lock held. Each method that may start a worker returns True when the pool must
    start one now (already counted as live and free)."""

    __slots__ = ("max_workers", "live", "free", "queued")

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self.live = 0
        self.free = 0
        self.queued = 0

    def __repr__(self) -> str:
        return f"<WorkerCount live={self.live}/{self.max_workers} free={self.free} queued={self.queued}>"

    def task_queued(self) -> bool:
        """A task was put in the queue."""
        self.queued += 1
        return self._hire()

    def task_taken(self) -> None:
        """A free worker took a task off the queue."""
        self.queued -= 1
        self.free -= 1

    def task_ended(self) -> None:
        """A worker ended its task and goes back to the queue."""
        self.free += 1

    def worker_left(self) -> bool:
        """A busy worker left the pool (its task was written off); its place may be refilled."""
        self.live -= 1
        return self._hire()

    def _hire(self) -> bool:
        if self.queued > self.free and self.live < self.max_workers:
            self.live += 1
            self.free += 1
            return True
        return False
