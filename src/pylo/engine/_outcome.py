"""What one attempt of a job produced, as plain data that crosses threads and processes."""

from __future__ import annotations

import pickle
import traceback
from typing import Any, NamedTuple

import cloudpickle

from ._errors import JobError

__all__ = ["Outcome", "outcome_of", "portable_error"]


class Outcome(NamedTuple):
    """``status`` is ``"done"`` (``value`` is the result), ``"failed"`` (``value`` is the
    exception) or ``"skipped"`` (``value`` is why: a status filter did not match)."""

    status: str
    value: Any


def outcome_of(call: Any) -> Outcome:
    """Run ``call()``; a raised ``Exception`` becomes a failed outcome, never propagates."""
    try:
        return Outcome("done", call())
    except Exception as exc:  # noqa: BLE001 - the user's job: its failure is data
        return Outcome("failed", exc)


def portable_error(exc: BaseException) -> BaseException:
    """``exc`` itself when it pickles and unpickles, else a ``JobError`` with its text."""
    try:
        pickle.loads(cloudpickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any pickling failure means: send text instead
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return JobError(type(exc).__qualname__, str(exc), text)
    return exc
