"""pylo-dask: run a task over millions of inputs on Dask or threads, never lose track of which
finished and which failed, and resume from the store, from any process or cluster.

    >>> from pylo import Pylo
    >>> pylo = Pylo.local_multithread("/tmp/pylo/store", number_of_workers=2)
    >>> eid = pylo.start_from_scratch(range(100), print)
"""

import logging as _logging

from ._core.config import Config
from ._core.run import Progress, Run
from ._core.status import Status
from ._core.summary import Summary, WorkerSummary
from .errors import (
    ClusterLost,
    CorruptSnapshot,
    ExecutionClaimed,
    ExecutionInterrupted,
    ExecutionNotFound,
    IncompatibleSnapshot,
    InvalidArgument,
    PyloError,
    SnapshotError,
    StoreUnreachable,
    TaskNotSerializable,
)
from .execution import Pylo
from .store import ExceptionRecord

__all__ = [
    "ClusterLost",
    "Config",
    "CorruptSnapshot",
    "ExceptionRecord",
    "ExecutionClaimed",
    "ExecutionInterrupted",
    "ExecutionNotFound",
    "IncompatibleSnapshot",
    "InvalidArgument",
    "Progress",
    "Pylo",
    "PyloError",
    "Run",
    "SnapshotError",
    "Status",
    "StoreUnreachable",
    "Summary",
    "TaskNotSerializable",
    "WorkerSummary",
]

__version__ = "0.1.0"

# Tracebacks, reprs and pickles name the public path (``pylo.Run``), never the private module.
for _cls in (Config, ExceptionRecord, Progress, Run, Status, Summary, WorkerSummary):
    _cls.__module__ = __name__
del _cls

# A library logs, the application decides where it goes: without a handler of its own, Python's
# last resort would print pylo's warnings (a worker gave up…) to stderr.
_logging.getLogger("pylo").addHandler(_logging.NullHandler())
