"""executor-engine's ``executor.engine.job.extend.webapp``."""

from ..._extend import WebAppJob, WebappJob

__all__ = ["WebAppJob", "WebappJob"]
