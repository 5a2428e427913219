"""``engine.jobs``: a read-only view of an engine's jobs, grouped by status as executor-engine's
``Jobs`` is (``jobs.running.values()``, ``job in jobs``, ``len(jobs)``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .._core.status import Status
from ._job import Job

__all__ = ["JobGroup", "Jobs"]


class JobGroup:
    """The jobs that have one status, at the moment it was read."""

    def __init__(self, jobs: list[Job]) -> None:
        self._jobs = jobs

    def values(self) -> list[Job]:
        return list(self._jobs)

    def keys(self) -> list[str]:
        return [job.id for job in self._jobs]

    def items(self) -> list[tuple[str, Job]]:
        return [(job.id, job) for job in self._jobs]

    def __len__(self) -> int:
        return len(self._jobs)

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs))

    def __contains__(self, item: Any) -> bool:
        return any(item is job or item == job.id for job in self._jobs)


class Jobs:
    """Every job of an engine; iterating gives jobs (not ids)."""

    def __init__(self, table: Mapping[str, Job]) -> None:
        self._table = table

    def _all(self) -> list[Job]:
        return list(self._table.values())

    def __iter__(self) -> Iterator[Job]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, item: Any) -> bool:
        if isinstance(item, Job):
            return self._table.get(item.id) is item
        return item in self._table

    def __getitem__(self, job_id: str) -> Job:
        return self._table[job_id]

    def __repr__(self) -> str:
        return f"<Jobs {len(self)}: " + ", ".join(f"{s.value}={len(self._with(s))}" for s in Status) + ">"

    def get_job_by_id(self, job_id: str) -> Job:
        return self._table[job_id]

    def all_jobs(self) -> list[Job]:
        return self._all()

    def _with(self, status: Status) -> JobGroup:
        return JobGroup([job for job in self._all() if job.status is status])

    @property
    def pending(self) -> JobGroup:
        return self._with(Status.PENDING)

    @property
    def running(self) -> JobGroup:
        return self._with(Status.RUNNING)

    @property
    def done(self) -> JobGroup:
        return self._with(Status.DONE)

    @property
    def failed(self) -> JobGroup:
        return self._with(Status.FAILED)

    @property
    def cancelled(self) -> JobGroup:
        return self._with(Status.CANCELLED)
