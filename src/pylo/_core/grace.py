"""A stopped run whose task never returns still ends: after a grace period it settles as
cancelled, and the workers still stuck in a call are abandoned.

    run asked to stop ──► wait ``cancel_grace`` s (the run's clock) ──► run ended? nothing to do
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
from .run import Run
from ..errors import PyloError
from ..store import Manifest

__all__ = ["end_after_grace"]

log = logging.getLogger(__name__)


def end_after_grace(ctx: BlockContext, manifest: Manifest, run: Run, running: Callable[[], list[int]],
                    end: Callable[[], None]) -> None:
    """Once ``run`` is asked to stop, give its workers ``ctx.config.cancel_grace`` seconds; then,
    if ``running()`` still names some, abandon them and ``end()`` the run (``end`` must be safe
    to call twice: an abandoned worker that returns later ends the run too)."""

    def check() -> None:
        ctx.clock.sleep(ctx.config.cancel_grace)
        stuck = [] if run.done() else running()
        if stuck:
            abandon(ctx, manifest, stuck)
            end()

    run.when_cancel_requested(lambda: threading.Thread(
        target=check, name=f"pylo-{manifest.id}-grace", daemon=True).start())


def abandon(ctx: BlockContext, manifest: Manifest, workers: list[int]) -> None:
    """Warn of ``workers`` stuck past the grace period and record their outcome from the store."""
    log.warning(
        "execution %s: worker%s %s still running an input %g s after the run was asked to stop; "
        "abandoned: the run ends cancelled, the input stays pending, and the thread runs on in the "
        "background until its call returns (set timeout= to bound every attempt)",
        manifest.id, "s" if len(workers) > 1 else "", ", ".join(map(str, workers)), ctx.config.cancel_grace)
    try:
        states = ctx.store.read_states(manifest)
        for w in workers:
            blocks = [states[b.block] for b in manifest.worker_blocks(w)]
            tally = WorkerTally(worker=w, finished=sum(len(b.finished) for b in blocks),
                                failed=sum(len(b.failed) for b in blocks),
                                failed_attempts=sum(b.failed_attempts for b in blocks))
            finish_worker(ctx, tally, cancelled=True)
    except PyloError:  # the run ends anyway: the store will show the workers never ended
        log.exception("execution %s: could not record the outcome of its abandoned workers", manifest.id)
