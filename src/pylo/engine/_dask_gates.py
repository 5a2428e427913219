"""Dask gates: a ``DaskJob`` gated only on other Dask jobs is handed to the Dask scheduler at
once, with those jobs' *settled* futures (futures that never raise) as its dependencies, so the
scheduler starts it without a round trip to the client.

    condition + result arguments ──dask_plan (pure)──► [(upstream id, statuses it must end in)]
        └─(None: time, any-of, custom, a non-Dask upstream…)──► the engine decides, as for any job
    plan ──submit_gated──► one Dask task: settled_after(statuses, upstream futures…) runs the call

No ``distributed`` here: ``_dask_client`` does the submitting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .._core.status import SETTLED, Status
from ..conditions import AfterAnother, AfterOthers, AllSatisfied, Condition
from ._dask_job import DaskJob, _dask_future
from ._deps import Deferred
from ._job import Job
from ._outcome import Outcome

__all__ = ["Plan", "dask_plan", "in_flight", "submit_gated"]

log = logging.getLogger("pylo.engine")

Plan = list[tuple[str, frozenset[str]]]  # (upstream job id, the status values it may end in)


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


def dask_plan(condition: Condition | None, dep_ids: Iterable[str], in_flight: Callable[[str], bool]) -> Plan | None:
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


def in_flight(job: Job, handle: Any) -> bool:
    """Whether ``job``, whose current attempt holds ``handle``, is a Dask job whose future can be
    another Dask job's dependency: handed to Dask, not settled, never retried."""
    return (
        isinstance(job, DaskJob) and _dask_future(handle) is not None and not job.retries
        and job.status in (Status.PENDING, Status.RUNNING)
    )


def submit_gated(
    client: Any, job: Job, token: int, plan: Plan, handles: Sequence[Any], report: Callable[[Outcome], None]
) -> Any:
    """Submit attempt ``token`` of ``job`` to run once the upstreams of ``plan`` (whose futures
    are ``handles``, in the same order) have ended as it says; return its Dask future.
    ``report`` gets the outcome (on the client's thread)."""
    from . import _dask_client as _dask

    order = [job_id for job_id, _ in plan]
    future = _dask.submit(
        client, _dask.settled_after, Deferred.of(job, order), [statuses for _, statuses in plan], *handles,
        key=f"pylo-job-{job.name}-{job.id}-{token}", on_done=report,
    )
    log.debug("job %s handed to Dask after %s", job.id, order)
    return future
