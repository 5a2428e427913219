"""pylo-dask: run a task over millions of inputs on Dask or threads, never lose track of which
finished and which failed, and resume from the store, from any process or cluster.

    >>> from pylo import Pylo
    >>> pylo = Pylo.local_multithread("/tmp/pylo/store", number_of_workers=2)
    >>> eid = pylo.start_from_scratch(range(100), print)
"""

from ._config import Config
from ._ui import html as _html
from ._core.run import Progress, Run
from ._core.status import Status
from ._core.summary import ExceptionKind, ExecutionStatus, Summary, WorkerSummary
from ._core.tolerance import Stop, StopKind
from ._core.verify import Problem, VerifyReport
from ._ui.activity import Pictures
from .errors import (
    ClusterLost,
    CorruptSnapshot,
    ExecutionClaimed,
    ExecutionInterrupted,
    ExecutionNotFound,
    IncompatibleSnapshot,
    InputsFailed,
    InvalidArgument,
    PyloError,
    ResultNotSerializable,
    ResultsNotKept,
    SnapshotError,
    StoreNotFound,
    StoreNotWritable,
    StoreUnreachable,
    TaskNotSerializable,
)
from .execution import Pylo
from .store import ExceptionRecord

__all__ = [
    "ClusterLost",
    "Config",
    "CorruptSnapshot",
    "ExceptionKind",
    "ExceptionRecord",
    "ExecutionClaimed",
    "ExecutionInterrupted",
    "ExecutionNotFound",
    "ExecutionStatus",
    "IncompatibleSnapshot",
    "InputsFailed",
    "InvalidArgument",
    "Pictures",
    "Problem",
    "Progress",
    "Pylo",
    "PyloError",
    "ResultNotSerializable",
    "ResultsNotKept",
    "Run",
    "SnapshotError",
    "Status",
    "Stop",
    "StopKind",
    "StoreNotFound",
    "StoreNotWritable",
    "StoreUnreachable",
    "Summary",
    "TaskNotSerializable",
    "VerifyReport",
    "WorkerSummary",
]

__version__ = "0.1.0"

# Tracebacks, reprs and pickles name the public path (``pylo.Run``), never the private module.
for _cls in (Config, ExceptionKind, ExceptionRecord, ExecutionStatus, Pictures, Problem, Progress, Run, Status,
             Stop, StopKind, Summary, VerifyReport, WorkerSummary):
    _cls.__module__ = __name__
del _cls

# The notebook views of Run and Summary come from the UI, above the core that defines them.
_html.install_reprs()

# No NullHandler on the "pylo" logger, on purpose: while the application configures no logging,
# Python's last resort prints pylo's WARNINGs (a worker gave up, the store is being retried) to
# stderr, which a notebook shows under the cell; INFO and below stay silent. An application that
# configures logging decides where they go.
