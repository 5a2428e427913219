"""Backends run the workers of an execution. The contract is narrow: ``launch`` starts every
worker of a manifest without blocking, feeds ``run.on_delta`` with each flush and calls
``run.settle`` once at the end; beside it a backend answers what the execution asks of it
(``client``, ``dashboard_link``, ``cancel_queued``), "none" where it has no such thing.

``distributed`` is imported in this package only: ``_dask`` (the Dask backend and its driver),
``_dask_run`` (a run that is also a Dask future), ``_dask_inputs`` (Dask collections and
futures as inputs), ``_bags`` (a bag's partitions written as blocks) and ``_read_bags``
(state and results read back as bags, on the workers). ``_threads`` runs without Dask.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable

from .._core.block import BlockContext
from .._core.run import Run
from ..store import Manifest, Store

if TYPE_CHECKING:  # a thread backend never imports distributed
    from distributed import Client

__all__ = ["Backend", "OnEnd", "end_run"]

log = logging.getLogger(__name__)

# Called once when a run ends, with its error (or None), before the run settles.
OnEnd = Callable[[BaseException | None], None]


@runtime_checkable
class Backend(Protocol):
    """What an execution needs of the place its workers run."""

    @property
    def client(self) -> Client | None:
        """The Dask client the workers run through, ``None`` when they do not run on Dask."""

    @property
    def dashboard_link(self) -> str | None:
        """Where a user watches the workers (Dask's dashboard), ``None`` when nowhere."""

    def default_workers(self) -> int: ...

    def check(self, store: Store, task: Callable[[Any], object]) -> None:
        """Refuse, before any work, what this backend cannot run (raises ``InvalidArgument``)."""

    def launch(
        self, ctx: BlockContext, manifest: Manifest, run: Run, on_end: OnEnd = ...
    ) -> None:
        """Start every worker without blocking; call ``on_end(error)`` and then ``run.settle(error)`` once."""

    def cancel_queued(self, eid: str) -> None:
        """Cancel at once the work of ``eid`` that has not started, where the backend queues
        any (the store's cancel marker, written first, stops what runs)."""

    def close(self) -> None: ...


def end_run(run: Run, on_end: OnEnd, error: BaseException | None) -> None:
    """Release what the run held (its claims), then settle it: waiters wake up after the release."""
    try:
        on_end(error)
    # Broad on purpose: whatever releasing raises (a store error, a bug) is logged, and the run
    # still settles: a claim left behind expires, a run never settled leaves its waiters hanging.
    except Exception:
        log.exception("execution %s: releasing its claims failed", run.id)
    run.settle(error)
