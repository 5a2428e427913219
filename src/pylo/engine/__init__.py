"""The job engine: jobs of several kinds, with statuses, limits, retries, cancellation, result
dependencies and event-driven conditions (``pylo.conditions``) that become Dask dependencies
between Dask jobs. It is a drop-in for executor-engine 0.3: its import paths
(``pylo.engine.core``, ``pylo.engine.job``, ``pylo.engine.job.condition``, ``.job.dask``,
``.job.extend.subprocess``/``webapp``/``cron``/``sentinel``, ``pylo.engine.launcher``) name
the same objects as this package.

    >>> from pylo.engine import Engine, ThreadJob
    >>> from pylo.conditions import AfterAnother
    >>> with Engine() as engine:
    ...     first = ThreadJob(lambda: 1)
    ...     second = ThreadJob(lambda x: x + 1, args=(first,))      # runs with first's result
    ...     third = ThreadJob(print, args=("after",), condition=AfterAnother(first.id))
    ...     _ = engine.submit(first, second, third)
    ...     _ = engine.wait()
    after
    >>> second.result()
    2
"""

from ..errors import InvalidStateError, JobCancelled, JobError, JobNotFound
from ._dask_job import DaskJob
from ._engine import Engine, EngineSetting, get_default_engine
from ._execution_job import ExecutionJob
from ._extend import SubprocessJob, WebAppJob, WebappJob
from ._generators import AsyncJobGenerator, JobGenerator
from ._job import Job, JobFuture, LocalJob, ProcessJob, ThreadJob
from ._job_records import JobRecord
from ._jobs import Jobs
from . import launcher as _launcher_paths  # noqa: F401 - executor-engine's module path, loaded first
from ._launcher import AsyncLauncher, Launcher, SyncLauncher, launcher  # so ``launcher`` is the decorator
from ._sentinel import CronJob, SentinelJob

__version__ = "0.3.3"  # the executor-engine version whose API this follows

__all__ = [
    "AsyncJobGenerator",
    "AsyncLauncher",
    "CronJob",
    "DaskJob",
    "Engine",
    "EngineSetting",
    "ExecutionJob",
    "InvalidStateError",
    "Job",
    "JobCancelled",
    "JobError",
    "JobFuture",
    "JobGenerator",
    "JobNotFound",
    "JobRecord",
    "Jobs",
    "Launcher",
    "LocalJob",
    "ProcessJob",
    "SentinelJob",
    "SubprocessJob",
    "SyncLauncher",
    "ThreadJob",
    "WebAppJob",
    "WebappJob",
    "get_default_engine",
    "launcher",
]

# Public classes name their public module, never the private one that defines them: it is what
# tracebacks, reprs and pickles show (a job record names its kind by it, too).
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("pylo.engine._"):
        _obj.__module__ = __name__
del _name, _obj
