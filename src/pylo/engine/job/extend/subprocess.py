"""executor-engine's ``executor.engine.job.extend.subprocess``."""

from ..._extend import SubprocessJob

__all__ = ["SubprocessJob"]
