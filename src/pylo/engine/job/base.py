"""executor-engine's ``executor.engine.job.base``."""

from ...errors import InvalidStateError
from .._job import Job, JobFuture

__all__ = ["InvalidStateError", "Job", "JobFuture"]
