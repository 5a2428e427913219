"""The job engine: jobs of several kinds, with statuses, limits, retries, cancellation, result
dependencies and event-driven conditions (``pylo.conditions``) that become Dask dependencies
between Dask jobs.

    >>> from pylo.engine import Engine, ThreadJob
    >>> from pylo.conditions import AfterAnother
    >>> with Engine() as engine:
    ...     first = ThreadJob(lambda: 1)
    ...     second = ThreadJob(lambda x: x + 1, args=(first,))      # runs with first's result
    ...     third = ThreadJob(print, args=("after",), condition=AfterAnother(first.id))
    ...     for job in (first, second, third):
    ...         _ = engine.submit(job)
    ...     engine.wait()
    after
    >>> second.result()
    2
"""

from ._dask_job import DaskJob
from ._engine import Engine, EngineConfig
from ._errors import JobCancelled, JobError, JobNotFound
from ._execution_job import ExecutionJob
from ._extend import SubprocessJob, WebAppJob, WebappJob
from ._job import Job, JobFuture, LocalJob, ProcessJob, ThreadJob
from ._launcher import Launcher, launcher
from ._job_records import JobRecord

__all__ = [
    "DaskJob",
    "Engine",
    "EngineConfig",
    "ExecutionJob",
    "Job",
    "JobCancelled",
    "JobError",
    "JobFuture",
    "JobNotFound",
    "JobRecord",
    "Launcher",
    "LocalJob",
    "ProcessJob",
    "SubprocessJob",
    "ThreadJob",
    "WebAppJob",
    "WebappJob",
    "launcher",
]
