"""Runs the worker chains on threads of this process, without Dask.

    launch ─► one thread per worker: run_block(b0) → run_block(b1) → … → finish_worker
                       └── on_delta per flush ──► Run ◄── settle, from the last thread out
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable

from .._block import BlockContext, finish_worker, run_block, worker_blocks
from .._decide import WorkerTally
from .._run import Run
from ..store import BlockInfo, Manifest, Store

__all__ = ["ThreadBackend"]

log = logging.getLogger(__name__)


class ThreadBackend:
    """Each worker is a thread that owns its blocks and runs them in order."""

    def default_workers(self) -> int:
        return min(32, (os.cpu_count() or 1) + 4)

    def check(self, store: Store, task: Callable[[Any], object]) -> None:
        """Threads share this process: any callable and any store this process reaches will do."""

    def close(self) -> None:
        """Nothing to release: worker threads end with their run."""

    def launch(self, ctx: BlockContext, manifest: Manifest, run: Run) -> None:
        chains = worker_blocks(manifest)
        remaining = [len(chains)]
        errors: list[BaseException] = []
        lock = threading.Lock()

        def worker(w: int, blocks: list[BlockInfo]) -> None:
            try:
                _run_chain(ctx, w, blocks, run)
            except BaseException as exc:  # recorded, handed to the caller by Run.wait
                errors.append(exc)
                run.cancel()  # the other workers flush and stop
                if not isinstance(exc, Exception):
                    log.warning("worker %d of %s stopped by %r", w, manifest.id, exc)
                else:
                    log.exception("worker %d of %s failed", w, manifest.id)
            finally:
                with lock:
                    remaining[0] -= 1
                    last = remaining[0] == 0
                if last:
                    run.settle(errors[0] if errors else None)

        run.start()
        if not chains:
            run.settle()
            return
        for w, blocks in chains.items():
            name = f"pylo-{manifest.id}-worker-{w}"
            threading.Thread(target=worker, args=(w, blocks), name=name, daemon=True).start()


def _run_chain(ctx: BlockContext, w: int, blocks: list[BlockInfo], run: Run) -> None:
    tally = WorkerTally(worker=w)
    stop = lambda: run.cancel_requested  # noqa: E731 - cheap, read between inputs
    try:
        for info in blocks:
            tally = run_block(ctx, info, tally, stop=stop, report=run.on_delta)
    finally:
        finish_worker(ctx, tally, cancelled=run.cancel_requested)
