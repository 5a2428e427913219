"""The launcher API: a decorator that turns a function into a job submitter.

    @launcher(job_type="thread")
    def add(a, b): return a + b

    job = add.submit(1, 2)      # a ThreadJob, submitted to the engine of the enclosing
                                # ``with Engine()`` (else the process's default engine)
    add(1, 2)                   # submit, wait, return 3 (or raise the job's error)

A ``cmd2func`` function (one that returns or yields a command line) makes ``SubprocessJob``s.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import InvalidArgument, JobCancelled
from ._dask_job import DaskJob
from ._engine import Engine, get_default_engine
from ._extend import SubprocessJob, WebappJob
from ._job import Job, LocalJob, ProcessJob, ThreadJob, callable_name

__all__ = ["AsyncLauncher", "Launcher", "SyncLauncher", "launcher"]

L = TypeVar("L", bound="Launcher")

JOB_TYPES: dict[str, type[Job]] = {
    "local": LocalJob, "thread": ThreadJob, "process": ProcessJob, "dask": DaskJob,
    "subprocess": SubprocessJob, "webapp": WebappJob,
}


def _is_cmd2func(func: Any) -> bool:
    return type(func).__name__ == "Cmd2Func" and hasattr(func, "get_cmd_str")


class Launcher:
    """Submits ``func`` as a job of ``job_type`` to ``engine`` (by default the engine of the
    enclosing ``with Engine()``, else the process's default engine, which a synchronous
    launcher needs started: ``get_default_engine().start()``; an async one starts it).
    ``job_attrs`` are passed to every job (``retries``, ``condition``…)."""

    async_mode = False

    def __init__(
        self, func: Callable[..., Any], engine: Engine | None = None, job_type: str = "process",
        name: str | None = None, description: str | None = None, tags: list[str] | None = None,
        job_attrs: dict[str, Any] | None = None,
    ) -> None:
        if _is_cmd2func(func) and job_type != "webapp":
            job_type = "subprocess"
        if job_type not in JOB_TYPES:
            raise InvalidArgument(f"job_type must be one of {sorted(JOB_TYPES)}, got {job_type!r}")
        self.target_func = self.func = func
        self.job_type = job_type
        self.name = name or callable_name(func)
        self.description = description or getattr(func, "__doc__", None)
        self.tags = list(tags or [])
        self.job_attrs = {**dict(job_attrs or {}), "name": self.name}
        self._engine = engine
        functools.update_wrapper(self, func)  # type: ignore[arg-type]  # callable in its subclasses

    @property
    def engine(self) -> Engine:
        return self._engine if self._engine is not None else get_default_engine()

    @engine.setter
    def engine(self, engine: Engine) -> None:
        self._engine = engine

    def job(self, *args: Any, **kwargs: Any) -> Job:
        """A job for ``func(*args, **kwargs)``, not submitted."""
        kind = JOB_TYPES[self.job_type]
        if _is_cmd2func(self.func):
            command_func: Any = self.func  # a cmd2func object: untyped
            cmd = command_func.get_cmd_str(*args, **kwargs)
            command_kind: Callable[..., Job] = kind  # SubprocessJob or WebappJob: they take a command
            return command_kind(cmd if isinstance(cmd, str) else next(iter(cmd)), **self.job_attrs)
        if kind is WebappJob:
            return WebappJob(self.func, *args, **{**kwargs, **self.job_attrs})
        return kind(self.func, args, kwargs, **self.job_attrs)

    create_job = job

    @staticmethod
    def _fetch(job: Job) -> Any:
        if job.status.value == "cancelled":
            raise JobCancelled(job.cancel_reason or "cancelled")
        return job.result()

    def _copy(self, cls: type[L]) -> L:
        return cls(self.func, self._engine, self.job_type, self.name, self.description, self.tags, self.job_attrs)

    def to_async(self) -> AsyncLauncher:
        return self._copy(AsyncLauncher)

    def to_sync(self) -> SyncLauncher:
        return self._copy(SyncLauncher)


class SyncLauncher(Launcher):
    def submit(self, *args: Any, **kwargs: Any) -> Job:
        """Submit a job and return it."""
        job = self.job(*args, **kwargs)
        self.engine.submit(job)
        return job

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Submit, wait, and return the result or raise the job's error (``JobCancelled``, a
        ``RuntimeError``, when it was cancelled: an upstream failed)."""
        job = self.submit(*args, **kwargs)
        self.engine.wait_job(job)
        return self._fetch(job)


class AsyncLauncher(Launcher):
    async_mode = True

    async def submit(self, *args: Any, **kwargs: Any) -> Job:
        job = self.job(*args, **kwargs)
        await self.engine.submit_async(job)
        return job

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        job = await self.submit(*args, **kwargs)
        await job.join()
        return self._fetch(job)


def launcher(
    func: Callable[..., Any] | None = None, engine: Engine | None = None, async_mode: bool = False,
    job_type: str = "process", name: str | None = None, description: str | None = None,
    tags: list[str] | None = None, job_attrs: dict[str, Any] | None = None,
) -> Any:
    """``@launcher`` or ``@launcher(job_type=…, engine=…, async_mode=…)``: see ``Launcher``."""
    def make(f: Callable[..., Any]) -> Launcher:
        cls = AsyncLauncher if async_mode else SyncLauncher
        return cls(f, engine, job_type, name, description, tags, job_attrs)

    return make if func is None else make(func)
