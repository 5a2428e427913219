"""Errors of the job engine, under pylo's root ``PyloError``::

    PyloError
    ├── JobCancelled (concurrent.futures.CancelledError)   the job was cancelled; ``reason`` says why
    ├── JobError (RuntimeError)                            a job failed remotely and its exception
    │                                                      could not travel back: type, message, traceback
    └── JobNotFound (LookupError)                          no job with that id in this engine
"""

from __future__ import annotations

import concurrent.futures

from ..errors import PyloError

__all__ = ["JobCancelled", "JobError", "JobNotFound"]


class JobCancelled(PyloError, concurrent.futures.CancelledError):
    """A job was cancelled: by the user, because its upstream failed, or its condition can never
    hold. ``str(exc)`` is the reason."""


class JobError(PyloError, RuntimeError):
    """A job's exception that could not be sent back as itself: its type name, message and
    traceback text."""

    def __init__(self, type_name: str, message: str, traceback: str = "") -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.message, self.traceback = type_name, message, traceback

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        return (type(self), (self.type_name, self.message, self.traceback))


class JobNotFound(PyloError, LookupError):
    """No job with that id is known to this engine."""
