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
    """Start following ``manifest``'s execution on ``run``. The first look is made here, so that
    an execution that has ended gives a run that has ended (never one that says "running");
    a running one is followed on a thread, and this returns at once."""
    run.start()
    if _look(store, manifest, run):
        threading.Thread(target=_follow, args=(store, manifest, run, poll), daemon=True,
                         name=f"pylo-{manifest.id}-attached").start()


def _follow(store: Store, manifest: Manifest, run: Run, poll: float) -> None:
    stopped = threading.Event()
    while not stopped.wait(poll) and _look(store, manifest, run):
        pass


def _look(store: Store, manifest: Manifest, run: Run) -> bool:
    """Refresh the counts; settle ``run`` and return ``False`` once the execution has ended."""
    try:
        running = store.is_running(manifest.id)  # before the counts: they are then final
        _refresh(run)
        if running:
            return True
        if store.cancel_requested(manifest.id) and not run.cancel_requested:
            run.note_cancelled()
    except PyloError as exc:
        run.settle(exc)
        return False
    run.settle()
    return False


def _refresh(run: Run) -> None:
    if run.describe is None:
        return
    summary = run.describe()
    run.reconcile(summary.finished - summary.inherited, summary.failed)
