"""The launcher API: a decorator that turns a function into a job submitter.

    @launcher(job_type="thread", engine=engine)
    def add(a, b): return a + b

    job = add.submit(1, 2)      # a ThreadJob, submitted
    add(1, 2)                   # submit, wait, return 3 (or raise the job's error)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..errors import InvalidArgument
from ._dask_job import DaskJob
from ._engine import Engine
from ._extend import WebappJob
from ._job import Job, LocalJob, ProcessJob, ThreadJob

__all__ = ["Launcher", "launcher"]

JOB_TYPES: dict[str, type[Job]] = {
    "local": LocalJob, "thread": ThreadJob, "process": ProcessJob, "dask": DaskJob, "webapp": WebappJob,
}


class Launcher:
    """Submits ``func`` as a job of ``job_type`` to ``engine`` (by default an engine of its own,
    started on first use: stop it with ``launcher.engine.stop()``). ``job_attrs`` are passed to
    every job (``retries``, ``condition``…). With ``async_mode`` the calls are coroutines."""

    def __init__(
        self, func: Callable[..., Any], *, engine: Engine | None = None, async_mode: bool = False,
        job_type: str = "process", name: str | None = None, job_attrs: dict[str, Any] | None = None,
    ) -> None:
        if job_type not in JOB_TYPES:
            raise InvalidArgument(f"job_type must be one of {sorted(JOB_TYPES)}, got {job_type!r}")
        self.func, self.job_type, self.async_mode = func, job_type, async_mode
        self.name = name or getattr(func, "__name__", "job")
        self.job_attrs = dict(job_attrs or {})
        self._engine = engine
        functools.update_wrapper(self, func)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine()
        return self._engine

    def job(self, *args: Any, **kwargs: Any) -> Job:
        """A job for ``func(*args, **kwargs)``, not submitted."""
        attrs = {"name": self.name, **self.job_attrs}
        if self.job_type == "webapp":
            return WebappJob(self.func, *args, **{**kwargs, **attrs})
        return JOB_TYPES[self.job_type](self.func, args, kwargs, **attrs)

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        """Submit a job and return it (a coroutine returning it, in async mode)."""
        if self.async_mode:
            return self._submit_async(*args, **kwargs)
        job = self.job(*args, **kwargs)
        self.engine.submit(job)
        return job

    async def _submit_async(self, *args: Any, **kwargs: Any) -> Job:
        job = self.job(*args, **kwargs)
        await self.engine.submit_async(job)
        return job

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Submit, wait, and return the result or raise the job's error."""
        if self.async_mode:
            return self._call_async(*args, **kwargs)
        job = self.submit(*args, **kwargs)
        return job.result()

    async def _call_async(self, *args: Any, **kwargs: Any) -> Any:
        job = await self._submit_async(*args, **kwargs)
        return await job

    def to_async(self) -> Launcher:
        return Launcher(self.func, engine=self._engine, async_mode=True, job_type=self.job_type, name=self.name, job_attrs=self.job_attrs)

    def to_sync(self) -> Launcher:
        return Launcher(self.func, engine=self._engine, async_mode=False, job_type=self.job_type, name=self.name, job_attrs=self.job_attrs)


def launcher(
    func: Callable[..., Any] | None = None, *, engine: Engine | None = None, async_mode: bool = False,
    job_type: str = "process", name: str | None = None, job_attrs: dict[str, Any] | None = None,
) -> Any:
    """``@launcher`` or ``@launcher(job_type=…, engine=…)``: see ``Launcher``."""
    def make(f: Callable[..., Any]) -> Launcher:
        return Launcher(f, engine=engine, async_mode=async_mode, job_type=job_type, name=name, job_attrs=job_attrs)

    return make if func is None else make(func)
