"""The seed's ``executor.engine.job.extend``: ``SubprocessJob`` and ``WebappJob``."""

from .._extend import SubprocessJob, WebAppJob, WebappJob

__all__ = ["SubprocessJob", "WebAppJob", "WebappJob"]
