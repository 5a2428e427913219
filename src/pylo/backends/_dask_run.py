"""A ``Run`` that is also a Dask future, so Dask's own tools follow an execution on Dask.

    submit ─► the run's own tasks, then client.submit(_until_ended, key=K) ─► a Dask worker:
                                                     secede, wait on Event K
    run.settle ─► the scheduler: Event K set ──────► _until_ended returns the execution id:
                                                     future K finished (wait, as_completed,
                                                     progress and gather see the end)

The execution is many Dask tasks, none of which stands for its end, and it must go on when this
client dies: so the future is one small watcher task, which secedes from its worker's thread pool
(it takes no thread a block could use) and wakes when the run settles. If this client dies the
future is released; the watcher sees its task cancelled at its next check and returns.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import distributed

from .._core.run import Run
from .._core.tolerance import Stop

__all__ = ["DaskRun"]

log = logging.getLogger(__name__)

#: Seconds between two checks, by an idle watcher, that its client still wants it.
_CHECK_SECONDS = 30.0
#: The watcher runs before queued blocks, so that it secedes at once and takes no thread.
_PRIORITY = 1_000_000


class DaskRun(Run, distributed.Future[str]):  # type: ignore[misc]  # two bases with methods of the same name
    """A ``Run`` whose Dask future settles (with the execution id) when the run ends; what a
    ``Run`` answers (``result``, ``status``, ``cancel``, ``await``) is the execution's, as on
    threads. ``client.cancel(run)`` cancels only the watcher: ``run.cancel()`` stops the run."""

    def __init__(self, client: distributed.Client, execution_id: str, total: int, *, on_cancel: Callable[[], None],
                 on_stop: Callable[[Stop], None] | None = None, watch: bool = True) -> None:
        """``watch=False``: the watcher task waits for ``watch``, called once the run's own tasks
        are submitted (or for ``settle``, should they never be)."""
        Run.__init__(self, execution_id, total, on_cancel=on_cancel, on_stop=on_stop)
        self._cluster_client = client
        self._watching = False
        self._watch_lock = threading.Lock()
        if watch:
            self.watch()

    def watch(self) -> None:
        """Submit the watcher task and become its future (once). A new run's comes after the
        run's own tasks, which take the free threads first: submitted before them, it held a
        block back until it seceded, and cost a run of 8 inputs 3 ms of its 29."""
        with self._watch_lock:
            if self._watching:
                return
            self._watching = True
        client = self._cluster_client
        # Named by the short id (as the progress bar names a run), not the whole one: the
        # execution's own tasks are the only keys that carry it whole.
        key = f"pylo-ended-{self.id[-8:]}-{uuid.uuid4().hex[:8]}"
        watcher = client.submit(_until_ended, key, self.id, key=key, pure=False, priority=_PRIORITY)
        distributed.Future.__init__(self, key, client)  # holds the key as long as this run lives
        del watcher

    def __del__(self) -> None:
        if getattr(self, "_watching", False):  # else nothing was ever held on the cluster
            super().__del__()  # type: ignore[no-untyped-call]  # Dask's own, untyped

    async def _rerun_watcher(self) -> None:
        """The watcher shares its process with the run's workers: an input that kills that
        process kills it too, and past Dask's allowed-failures it ends with ``KilledWorker``
        while the execution goes on. Once the run ends, the watcher runs again (under its key):
        it finds the event set, so Dask's own tools see the execution's end, not that death."""
        try:
            await self.client._retry([self])
        except Exception:  # noqa: BLE001 - the client is closing: the future goes with it
            log.debug("execution %s: could not rerun its watcher", self.id, exc_info=True)

    # Dask takes any object with __dask_graph__ for a collection; a future is not one.
    __dask_graph__ = None  # type: ignore[assignment]  # None is Dask's own word for "not a collection"

    def settle(self, error: BaseException | None = None) -> None:
        first = not self.done()
        super().settle(error)
        if first:
            self._wake_watcher()

    def _wake_watcher(self) -> None:
        if self._cluster_client.status != "running":  # closed with its cluster: the future is gone with it
            return
        try:
            self.watch()  # a run that ended before its tasks were submitted has none yet
            client = self.client
            client.loop.add_callback(client.scheduler.event_set, name=self.key)
            if getattr(self._state, "status", None) == "error":  # its process died under it too often
                client.loop.add_callback(self._rerun_watcher)
        except RuntimeError:  # the loop closed meanwhile
            log.debug("execution %s: could not settle its Dask future", self.id)


def _until_ended(name: str, execution_id: str) -> str:
    """Wait, outside the worker's thread pool, until the run sets ``name``; then the id."""
    distributed.secede()
    event = distributed.Event(name)
    while not event.wait(timeout=_CHECK_SECONDS):
        if not _still_wanted():
            return execution_id
    event.clear()  # nobody waits on it any more: the scheduler forgets it
    return execution_id


def _still_wanted() -> bool:
    """Whether some client still holds this task's future (else the scheduler cancelled it)."""
    worker = distributed.get_worker()
    ts = worker.state.tasks.get(worker.get_current_task())
    return ts is not None and ts.state != "cancelled"
