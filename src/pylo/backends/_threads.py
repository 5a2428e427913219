"""Runs the workers on threads of this process, without Dask.

    launch ─► one thread per worker: run_worker (it takes blocks while any is left; its lease,
                       │                        its outcome)
                       └── on_delta per flush ──► Run ◄── on_end, then settle, from the last thread out

A worker that fails (a store error, ``KeyboardInterrupt`` or ``SystemExit`` from the task) stops the
others between inputs; each flushes what it did, and the run fails with the first error.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable

from .._core.block import BlockContext
from .._core.chain import run_worker
from .._core.grace import Grace
from .._core.taking import Taker
from .._core.run import Run
from . import OnEnd, end_run
from ..store import Manifest, Store

__all__ = ["ThreadBackend"]

log = logging.getLogger(__name__)


class ThreadBackend:
    """Each worker is a thread that takes the next block nobody holds until none is left."""

    @property
    def client(self) -> None:
        """Threads do not run on Dask."""
        return None

    @property
    def dashboard_link(self) -> None:
        """Threads have no dashboard: the progress bar is all there is."""
        return None

    def default_workers(self) -> int:
        return min(32, (os.cpu_count() or 1) + 4)

    def check(self, store: Store, task: Callable[[Any], object]) -> None:
        """Threads share this process: any callable and any store this process reaches will do."""

    def cancel_queued(self, eid: str) -> None:
        """Nothing queued: every worker thread starts at launch and reads the cancel marker."""

    def close(self) -> None:
        """Nothing to release: worker threads end with their run."""

    def launch(
        self, ctx: BlockContext, manifest: Manifest, run: Run, on_end: OnEnd = lambda error: None
    ) -> None:
        workers = range(manifest.workers)
        remaining = [len(workers)]
        errors: list[BaseException] = []
        lock = threading.Lock()
        abort = threading.Event()  # set when a worker failed: the others stop between inputs
        ended: list[bool] = []

        def end(error: BaseException | None) -> None:  # once: a worker abandoned at the grace ends late
            with lock:
                if ended:
                    return
                ended.append(True)
            end_run(run, on_end, error)

        def worker(w: int) -> None:
            try:
                _run_worker(ctx, manifest, w, run, abort)
            except BaseException as exc:  # recorded, handed to the caller by Run.wait
                errors.append(exc)
                abort.set()
                if not isinstance(exc, Exception):
                    log.warning("worker %d of %s stopped by %r", w, manifest.id, exc)
                else:
                    log.error("worker %d of %s failed: %r", w, manifest.id, exc)
            finally:
                with lock:
                    remaining[0] -= 1
                    last = remaining[0] == 0
                if last:
                    grace.release()
                    end(errors[0] if errors else None)

        run.start()
        if not workers:
            end_run(run, on_end, None)
            return
        threads = [
            threading.Thread(target=worker, args=(w,), name=f"pylo-{manifest.id}-worker-{w}", daemon=True)
            for w in workers
        ]
        grace = Grace(ctx, manifest, run, lambda: [w for w, t in zip(workers, threads) if t.is_alive()],
                      lambda: end(None))
        try:
            for thread in threads:
                thread.start()
        finally:  # a Ctrl-C while starting them: the started ones stop, the run still settles
            unstarted = sum(1 for t in threads if t.ident is None)
            if unstarted:
                run.cancel()  # the run ends cancelled, not done, with inputs left pending
                abort.set()
                with lock:
                    remaining[0] -= unstarted
                    last = remaining[0] == 0
                if last:
                    grace.release()
                    end(None)


def _run_worker(ctx: BlockContext, manifest: Manifest, w: int, run: Run, abort: threading.Event) -> None:
    stop = lambda: run.cancel_requested or abort.is_set()  # noqa: E731 - cheap, read between inputs
    run_worker(ctx, w, Taker(ctx.store, manifest, w), stop=stop, report=run.on_delta)
