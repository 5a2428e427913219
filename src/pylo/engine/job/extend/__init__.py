"""executor-engine's ``executor.engine.job.extend``: jobs around other programs and schedules."""

from ..._extend import SubprocessJob, WebAppJob, WebappJob
from ..._sentinel import CronJob, SentinelJob

__all__ = ["CronJob", "SentinelJob", "SubprocessJob", "WebAppJob", "WebappJob"]
