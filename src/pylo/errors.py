"""The exception tree of pylo. Every error the library raises on purpose is a ``PyloError``::

    PyloError
    ├── InvalidArgument (ValueError)          a bad argument or config value, raised before any work
    │   └── TaskNotSerializable (TypeError)   the task or an input cannot be pickled for the backend
    │       └── ResultNotSerializable         a return value cannot be kept (fails its attempt)
    ├── ExecutionNotFound (LookupError)       no execution with that id in the store
    ├── ResultsNotKept (LookupError)          results asked of an execution run without store_results
    ├── InputsFailed                          the inputs could not be computed (a bag's partition raised)
    ├── SnapshotError                         the store holds something pylo cannot trust
    │   ├── CorruptSnapshot (ValueError)      an object is truncated, garbage or missing
    │   └── IncompatibleSnapshot              an object written by an unknown format version
    ├── StoreUnreachable (ConnectionError)    the store could not be read or written, after retries
    │   ├── StoreNotFound (LookupError)       the store's bucket does not exist
    │   └── StoreNotWritable (PermissionError) the store refuses writes (read-only, no permission)
    ├── ExecutionClaimed                      another client is already running this execution
    ├── ExecutionInterrupted                  a run stopped before its end (cancel, lost cluster)
    │   └── ClusterLost (ConnectionError)     the Dask scheduler went away during a run
    ├── ExecutionUnfinished                   a run ended with inputs failed or never run
    ├── WorkerDied                            recorded, not raised: an input was running each time
    │                                         its process died (exit code or signal, memory limit)
    │
    │   the job engine (``pylo.engine``):
    ├── ArgumentTypeError (InvalidArgument, TypeError)   an argument of the wrong type
    ├── JobCancelled (CancelledError, RuntimeError)     a job was cancelled; the message says why
    ├── JobError (RuntimeError)                          a job failed remotely and its exception
    │                                                    could not travel back: type, message, text
    ├── JobNotFound (LookupError)                        no job with that id in this engine
    └── InvalidStateError (RuntimeError)                 a job or an engine was asked for what its
                                                         state does not allow (a job's result
                                                         before it ended, a submit before start)

Each exception pickles and unpickles, so it crosses Dask process boundaries intact.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

__all__ = [
    "ArgumentTypeError",
    "ClusterLost",
    "CorruptSnapshot",
    "ExecutionClaimed",
    "ExecutionInterrupted",
    "ExecutionNotFound",
    "ExecutionUnfinished",
    "IncompatibleSnapshot",
    "InputsFailed",
    "InvalidArgument",
    "InvalidStateError",
    "JobCancelled",
    "JobError",
    "JobNotFound",
    "PyloError",
    "ResultNotSerializable",
    "ResultsNotKept",
    "SnapshotError",
    "StoreNotFound",
    "StoreNotWritable",
    "StoreUnreachable",
    "TaskNotSerializable",
    "WorkerDied",
]


class PyloError(Exception):
    """Root of every error pylo raises on purpose."""


class InvalidArgument(PyloError, ValueError):
    """An argument or a config value is invalid; raised before any work starts."""


class TaskNotSerializable(InvalidArgument, TypeError):
    """The task or an input cannot be serialized for the store or the backend."""


class ResultNotSerializable(TaskNotSerializable):
    """A task's return value cannot be serialized and loaded back, so it cannot be kept
    (``store_results=True``); recorded as the failure of that attempt."""


class ExecutionNotFound(PyloError, LookupError):
    """No execution with that id exists in the store."""


class ResultsNotKept(PyloError, LookupError):
    """Results were asked of an execution (or a parent in its chain) run without ``store_results``."""


class InputsFailed(PyloError):
    """The inputs could not be computed (a partition of a ``dask.bag.Bag`` raised); no execution
    was created. The original error is the ``__cause__``."""


class SnapshotError(PyloError):
    """An object in the store cannot be trusted; ``path`` names it."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.args[0], self.path))


class CorruptSnapshot(SnapshotError, ValueError):
    """An object in the store is truncated, unreadable or missing."""


class IncompatibleSnapshot(SnapshotError):
    """An object in the store was written with a format version this pylo cannot read."""


class StoreUnreachable(PyloError, ConnectionError):
    """The store could not be reached, even after retrying with backoff."""


class StoreNotFound(StoreUnreachable, LookupError):
    """The store's bucket (or container) does not exist: create it, or fix the URL."""


class StoreNotWritable(StoreUnreachable, PermissionError):
    """The store refused a write (a read-only store, missing permissions); the message names the
    first object that could not be written."""


class ExecutionClaimed(PyloError):
    """Another client holds the claim on this execution: resuming it twice at once is refused."""


class ExecutionInterrupted(PyloError):
    """A run ended before all its blocks ran (cancelled, or its cluster went away)."""


class ClusterLost(ExecutionInterrupted, ConnectionError):
    """The Dask cluster (its scheduler) went away during a run; the message keeps Dask's reason and
    says how to resume. What the workers flushed is in the store."""


class ExecutionUnfinished(PyloError):
    """An execution ended with inputs that failed or never ran (what fails an ``ExecutionJob``
    with ``fail_on_unfinished``); ``execution_id`` names it, so it can be resumed."""

    def __init__(self, message: str, execution_id: str = "") -> None:
        super().__init__(message)
        self.execution_id = execution_id

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.args[0], self.execution_id))


class WorkerDied(PyloError):
    """The process running an input died while it ran, ``deaths`` times (a segfault, an
    ``os._exit``, a kill, the nanny's memory limit). Never raised: it is the exception record of
    the input that was found running at each death, which is recorded *failed* so that the rest
    of its block runs. ``address``: the Dask worker; ``exit_code`` (negative: the signal) and
    ``memory`` (bytes in use, when known); ``memory_limit``: the nanny killed it at its limit."""

    def __init__(self, message: str, *, address: str = "", exit_code: int | None = None,
                 memory: int | None = None, memory_limit: bool = False, deaths: int = 0) -> None:
        super().__init__(message)
        self.address, self.exit_code, self.memory = address, exit_code, memory
        self.memory_limit, self.deaths = memory_limit, deaths

    def __reduce__(self) -> tuple[Any, ...]:
        return (_worker_died, (self.args[0], self.address, self.exit_code, self.memory,
                               self.memory_limit, self.deaths))


def _worker_died(message: str, address: str, exit_code: int | None, memory: int | None,
                 memory_limit: bool, deaths: int) -> WorkerDied:
    return WorkerDied(message, address=address, exit_code=exit_code, memory=memory,
                      memory_limit=memory_limit, deaths=deaths)


class ArgumentTypeError(InvalidArgument, TypeError):
    """An argument has a type the call cannot take (a job target that is not callable…)."""


class JobCancelled(PyloError, concurrent.futures.CancelledError, RuntimeError):
    """A job was cancelled: by the user, because its upstream failed, or its condition can never
    hold. ``str(exc)`` is the reason. It is a ``RuntimeError`` too: what executor-engine's
    launchers raise for a cancelled job."""


class JobError(PyloError, RuntimeError):
    """A job's exception that could not be sent back as itself: ``type_name`` and ``traceback``
    keep what is known of it."""

    def __init__(self, message: str, type_name: str = "", traceback: str = "") -> None:
        super().__init__(message)
        self.type_name, self.traceback = type_name, traceback

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        return (type(self), (self.args[0], self.type_name, self.traceback))


class JobNotFound(PyloError, LookupError):
    """No job with that id is known to this engine."""


class InvalidStateError(PyloError, RuntimeError):
    """A job or an engine was asked for something its state does not allow: a job's result
    before it ended, joining or re-running it before it was submitted, submitting jobs to an
    engine that was never started or has stopped."""
