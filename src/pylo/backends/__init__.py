"""Backends run the worker chains of an execution. The contract is narrow: ``launch`` starts every
chain of a manifest without blocking, feeds ``run.on_delta`` with each flush and calls
``run.settle`` once at the end. ``distributed`` is imported by ``_dask`` only."""

from __future__ import annotations

import logging
from typing import Any, Callable, Protocol

from .._core.block import BlockContext
from .._core.run import Run
from ..store import Manifest, Store

__all__ = ["Backend", "OnEnd", "end_run"]

log = logging.getLogger(__name__)

# Called once when a run ends, with its error (or None), before the run settles.
OnEnd = Callable[[BaseException | None], None]


class Backend(Protocol):
    def default_workers(self) -> int: ...

    def check(self, store: Store, task: Callable[[Any], object]) -> None:
        """Refuse, before any work, what this backend cannot run (raises ``InvalidArgument``)."""

    def launch(
        self, ctx: BlockContext, manifest: Manifest, run: Run, on_end: OnEnd = ...
    ) -> None:
        """Start every chain without blocking; call ``on_end(error)`` and then ``run.settle(error)`` once."""

    def close(self) -> None: ...


def end_run(run: Run, on_end: OnEnd, error: BaseException | None) -> None:
    """Release what the run held (its claims), then settle it: waiters wake up after the release."""
    try:
        on_end(error)
    except Exception:  # a claim left behind is reported, never a reason to lose the run's outcome
        log.exception("execution %s: releasing its claims failed", run.id)
    run.settle(error)
