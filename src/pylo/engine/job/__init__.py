"""The seed's import paths (``executor.engine.job``), kept as aliases of ``pylo.engine``."""

from .._dask_job import DaskJob
from .._job import Job, LocalJob, ProcessJob, ThreadJob

__all__ = ["DaskJob", "Job", "LocalJob", "ProcessJob", "ThreadJob"]
