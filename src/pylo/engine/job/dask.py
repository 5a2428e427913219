"""executor-engine's ``executor.engine.job.dask``."""

from .._dask_job import DaskJob

__all__ = ["DaskJob"]
