"""Following an execution that runs elsewhere: a ``Run`` fed from the store.

    watcher thread, every `poll` s:  summary (counts) ──► run.reconcile
                                      leases alive?    ──► no: settle (cancelled if asked to)

The store is all it needs, so it works from any process of any host: another client of the same
cluster, a fresh notebook kernel after the old one died, the CLI.
"""

from __future__ import annotations

import logging
import threading

from .run import Run
from ..errors import PyloError
from ..store import Manifest, Store

__all__ = ["attach_run"]

log = logging.getLogger(__name__)


def attach_run(store: Store, manifest: Manifest, run: Run, *, poll: float) -> None:
    """Start following ``manifest``'s execution on ``run``; returns at once."""
    run.start()
    threading.Thread(target=_follow, args=(store, manifest, run, poll), daemon=True,
                     name=f"pylo-{manifest.id}-attached").start()


def _follow(store: Store, manifest: Manifest, run: Run, poll: float) -> None:
    stopped = threading.Event()
    error: BaseException | None = None
    try:
        while True:
            running = store.is_running(manifest.id)  # before the counts: they are then final
            _refresh(run)
            if not running:
                break
            stopped.wait(poll)
        if store.cancel_requested(manifest.id) and not run.cancel_requested:
            run.note_cancelled()
    except PyloError as exc:
        error = exc
    run.settle(error)


def _refresh(run: Run) -> None:
    if run.describe is None:
        return
    summary = run.describe()
    run.reconcile(summary.finished - summary.inherited, summary.failed)
