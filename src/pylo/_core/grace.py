"""A stopped run whose task never returns still ends: after a grace period it settles as
cancelled, and the workers still stuck in a call are abandoned.

    run asked to stop ──► wait up to ``cancel_grace`` s for its end ──► it ended: nothing to do
                                                                    └─► workers still running:
        WARNING naming them; their outcome recorded from what the store holds (cancelled, the
        input they are stuck on and the rest of their blocks pending); the run ends cancelled

Python cannot stop a thread: an abandoned one runs on until its call returns; it then sees the
cancel, flushes what it did and rewrites its outcome (its inputs are counted once either way).
A resume may run the stuck input again meanwhile: tasks are idempotent (at least once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .block import BlockContext, finish_worker
from .decide import WorkerTally
from .summary import worker_chains
from .run import Run
from ..errors import PyloError
from ..store import Manifest

__all__ = ["Grace"]

log = logging.getLogger(__name__)


class Grace:
    """Once ``run`` is asked to stop, gives its workers ``ctx.config.cancel_grace`` seconds; then,
    if ``running()`` still names some, abandons them and calls ``end()`` (which must be safe to
    call twice: an abandoned worker that returns later ends the run too). The backend calls
    ``release()`` when its workers have all ended, before it ends the run: the waiting thread
    is gone by the time anyone sees the run ended."""

    def __init__(self, ctx: BlockContext, manifest: Manifest, run: Run, running: Callable[[], list[int]],
                 end: Callable[[], None]) -> None:
        self.ctx, self.manifest, self.running, self.end = ctx, manifest, running, end
        self._over = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        run.when_cancel_requested(self._start)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._over.is_set():
                return
            self._thread = threading.Thread(target=self._wait, name=f"pylo-{self.manifest.id}-grace", daemon=True)
            self._thread.start()

    def _wait(self) -> None:
        if self._over.wait(self.ctx.config.cancel_grace):
            return
        stuck = self.running()
        if stuck:
            abandon(self.ctx, self.manifest, stuck)
            self.end()

    def release(self) -> None:
        """The workers have all ended: stop waiting (and let the waiting thread end first)."""
        with self._lock:
            self._over.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()


def abandon(ctx: BlockContext, manifest: Manifest, workers: list[int]) -> None:
    """Warn of ``workers`` stuck past the grace period and record their outcome from the store."""
    log.warning(
        "execution %s: worker%s %s still running an input %g s after the run was asked to stop; "
        "abandoned: the run ends cancelled, the input stays pending, and the thread runs on in the "
        "background until its call returns (set timeout= to bound every attempt)",
        manifest.id, "s" if len(workers) > 1 else "", ", ".join(map(str, workers)), ctx.config.cancel_grace)
    try:
        states = ctx.store.read_states(manifest)
        chains = worker_chains(ctx.store, manifest)
        for w in workers:
            tally = WorkerTally.of_blocks(w, (states[b.block] for b in chains.get(w, [])))
            finish_worker(ctx, tally, cancelled=True)
    except PyloError:  # the run ends anyway: the store will show the workers never ended
        log.exception("execution %s: could not record the outcome of its abandoned workers", manifest.id)
