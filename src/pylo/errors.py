"""The exception tree of pylo. Every error the library raises on purpose is a ``PyloError``::

    PyloError
    ├── InvalidArgument (ValueError)          a bad argument or config value, raised before any work
    │   └── TaskNotSerializable (TypeError)   the task or an input cannot be pickled for the backend
    ├── ExecutionNotFound (LookupError)       no execution with that id in the store
    ├── SnapshotError                         the store holds something pylo cannot trust
    │   ├── CorruptSnapshot (ValueError)      an object is truncated, garbage or missing
    │   └── IncompatibleSnapshot              an object written by an unknown format version
    ├── StoreUnreachable (ConnectionError)    the store could not be read or written, after retries
    │   ├── StoreNotFound (LookupError)       the store's bucket does not exist
    │   └── StoreNotWritable (PermissionError) the store refuses writes (read-only, no permission)
    ├── ExecutionClaimed                      another client is already running this execution
    └── ExecutionInterrupted                  a run stopped before its end (cancel, lost cluster)
        └── ClusterLost (ConnectionError)     the Dask scheduler went away during a run

Each exception pickles and unpickles, so it crosses Dask process boundaries intact.
"""

from __future__ import annotations

__all__ = [
    "ClusterLost",
    "CorruptSnapshot",
    "ExecutionClaimed",
    "ExecutionInterrupted",
    "ExecutionNotFound",
    "IncompatibleSnapshot",
    "InvalidArgument",
    "PyloError",
    "SnapshotError",
    "StoreNotFound",
    "StoreNotWritable",
    "StoreUnreachable",
    "TaskNotSerializable",
]


class PyloError(Exception):
    """Root of every error pylo raises on purpose."""


class InvalidArgument(PyloError, ValueError):
    """An argument or a config value is invalid; raised before any work starts."""


class TaskNotSerializable(InvalidArgument, TypeError):
    """The task or an input cannot be serialized for the store or the backend."""


class ExecutionNotFound(PyloError, LookupError):
    """No execution with that id exists in the store."""


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
