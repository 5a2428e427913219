"""executor-engine's ``executor.engine.job``: the job kinds."""

from .._dask_job import DaskJob
from .._job import Job, JobFuture, LocalJob, ProcessJob, ThreadJob

__all__ = ["DaskJob", "Job", "JobFuture", "LocalJob", "ProcessJob", "ThreadJob"]
