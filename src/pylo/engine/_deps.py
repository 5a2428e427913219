"""Result dependencies: a job argument that is another job (or its future) stands for that job's
result. Only top-level positional and keyword arguments are looked at."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

from ._job import Job, JobFuture

__all__ = ["Deferred", "bind", "upstreams"]


def _as_job(value: Any) -> Job | None:
    if isinstance(value, Job):
        return value
    if isinstance(value, JobFuture):
        job: Job = value.job  # every future pylo makes is a Job's (isinstance cannot say so)
        return job
    return None


def upstreams(job: Job) -> list[Job]:
    """The jobs whose results ``job`` takes as arguments, in order, without repeats."""
    found: dict[str, Job] = {}
    for value in (*job.args, *job.kwargs.values()):
        up = _as_job(value)
        if up is not None:
            found.setdefault(up.id, up)
    return list(found.values())


def bind(job: Job, result_of: Callable[[Job], Any]) -> Callable[[], Any]:
    """``job``'s call with every upstream replaced by its result, ``result_of(upstream)``
    (upstreams must be done)."""
    if not any(_as_job(v) is not None for v in (*job.args, *job.kwargs.values())):
        return functools.partial(job.func, *job.args, **job.kwargs)

    def value(arg: Any) -> Any:
        up = _as_job(arg)
        return arg if up is None else result_of(up)

    args = [value(v) for v in job.args]
    kwargs = {k: value(v) for k, v in job.kwargs.items()}
    return functools.partial(job.func, *args, **kwargs)


@dataclasses.dataclass(frozen=True)
class _Slot:
    index: int


@dataclasses.dataclass(frozen=True)
class Deferred:
    """A call whose upstream arguments are filled in where it runs (on a Dask worker), from the
    upstream values it is given, in the order of ``order``."""

    func: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    @classmethod
    def of(cls, job: Job, order: list[str]) -> Deferred:
        def mark(value: Any) -> Any:
            up = _as_job(value)
            return value if up is None else _Slot(order.index(up.id))

        return cls(job.func, tuple(mark(v) for v in job.args), {k: mark(v) for k, v in job.kwargs.items()})

    def __call__(self, *values: Any) -> Any:
        def fill(value: Any) -> Any:
            return values[value.index] if isinstance(value, _Slot) else value

        return self.func(*(fill(v) for v in self.args), **{k: fill(v) for k, v in self.kwargs.items()})
