"""executor-engine's ``executor.engine.job.extend.sentinel``."""

from ..._sentinel import SentinelJob

__all__ = ["SentinelJob"]
