"""``DaskJob``: a job run on a Dask cluster (no ``distributed`` here: ``_dask_client`` does the
submitting). How its gate becomes Dask dependencies is ``_dask_gates``'s."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ._generators import Stepper
from ._job import Job, Runtime

__all__ = ["DaskJob"]

log = logging.getLogger("pylo.engine")


class DaskJob(Job):
    """Runs on the engine's Dask client (``Engine(dask_client=…)``, or a local cluster the engine
    starts and closes). Gated on other Dask jobs by ``AfterAnother``/``AfterOthers``/``&``, or
    taking their results, it is handed to the scheduler at once with those jobs' futures as
    dependencies."""

    kind = "dask"

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> Any:
        """Returns the attempt's Dask future."""
        from . import _dask_client as _dask

        return _dask.submit(
            rt.dask_client, _dask.settled_call, call,
            key=f"pylo-job-{self.name}-{self.id}-{token}", on_done=lambda o: rt.report(self, token, o),
        )

    def _stop(self, rt: Runtime, handle: Any) -> None:
        if _dask_future(handle) is not None:
            from . import _dask_client as _dask

            _dask.cancel(handle)

    def _release(self, handle: Any) -> None:
        """The job settled with its result: the cluster need not keep it."""
        future = _dask_future(handle)
        if future is not None:
            try:
                future.release()
            except Exception:  # noqa: BLE001 - a client already closed has nothing left to release
                log.debug("could not release Dask future %s", getattr(future, "key", future))


def _dask_future(handle: Any) -> Any:
    """The Dask future among a Dask job's attempt handles (a generator job's is its stepper)."""
    return None if handle is None or isinstance(handle, Stepper) else handle
