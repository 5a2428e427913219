"""``DaskJob``: a job run on a Dask cluster, and the plan that turns its condition into Dask
dependencies (pure: no ``distributed`` here; ``_dask`` does the submitting)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from .._core.status import SETTLED, Status
from ..conditions import AfterAnother, AfterOthers, AllSatisfied, Condition
from ._generators import Stepper
from ._job import Job, Runtime

__all__ = ["DaskJob", "dask_plan", "in_flight"]

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


def _status_terms(cond: Condition | None) -> list[tuple[str, frozenset[Status]]] | None:
    """``cond`` as a conjunction of (job id, statuses) terms, or ``None`` if it is not one."""
    if cond is None:
        return []
    if isinstance(cond, AfterAnother):
        return [(cond.job_id, cond.statuses)]
    if isinstance(cond, AfterOthers) and (cond.mode == "all" or len(cond.ids) == 1):
        return [(i, cond.statuses) for i in cond.ids]
    if type(cond) is AllSatisfied:
        terms: list[tuple[str, frozenset[Status]]] = []
        for part in cond.conditions:
            sub = _status_terms(part)
            if sub is None:
                return None
            terms += sub
        return terms
    return None


def dask_plan(
    condition: Condition | None, dep_ids: Iterable[str], in_flight: Callable[[str], bool]
) -> list[tuple[str, frozenset[str]]] | None:
    """The upstream jobs of a Dask job (gated by ``condition``, taking the results of
    ``dep_ids``) with the statuses each must end in, when the whole gate can be left to the Dask
    scheduler; ``None`` when it cannot (then the engine decides). ``in_flight(job_id)`` says
    whether that job is a Dask job already handed to Dask, not settled and never retried: only
    such a job's future can be a dependency. Pure: no jobs, no Dask here."""
    terms = _status_terms(condition)
    if terms is None:
        return None
    terms += [(i, frozenset({Status.DONE})) for i in dep_ids]
    if not terms:
        return None
    merged: dict[str, frozenset[Status]] = {}
    for job_id, statuses in terms:
        merged[job_id] = merged.get(job_id, SETTLED) & statuses
    if not all(statuses <= SETTLED and in_flight(job_id) for job_id, statuses in merged.items()):
        return None
    return [(job_id, frozenset(s.value for s in statuses)) for job_id, statuses in merged.items()]


def in_flight(job: Job | None) -> bool:
    """Whether ``job`` is a Dask job whose future can be another Dask job's dependency."""
    return (
        isinstance(job, DaskJob) and _dask_future(job._state.handle) is not None and not job.retries
        and job.status in (Status.PENDING, Status.RUNNING)
    )


def _dask_future(handle: Any) -> Any:
    """The Dask future among a Dask job's attempt handles (a generator job's is its stepper)."""
    return None if handle is None or isinstance(handle, Stepper) else handle
