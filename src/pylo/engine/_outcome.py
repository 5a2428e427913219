"""What one attempt of a job produced, as plain data that crosses threads and processes."""

from __future__ import annotations

import asyncio
import inspect
import pickle
import traceback
from typing import Any, NamedTuple

import cloudpickle

from ..errors import JobError

__all__ = ["Outcome", "outcome_of", "portable_error"]


class Outcome(NamedTuple):
    """``status`` is ``"done"`` (``value`` is the result), ``"failed"`` (``value`` is the
    exception) or ``"skipped"`` (``value`` is why: a status filter did not match)."""

    status: str
    value: Any


def outcome_of(call: Any, *, run_coroutines: bool = True) -> Outcome:
    """Run ``call()`` (and, with ``run_coroutines``, the coroutine it returns, to its end in a
    loop of its own); whatever it raises becomes a failed outcome and never propagates. Like
    ``concurrent.futures``' work items this catches ``BaseException`` too: a job that calls
    ``sys.exit`` fails with ``SystemExit`` instead of staying "running" forever or ending the
    thread that ran it."""
    try:
        value = call()
        if run_coroutines and inspect.iscoroutine(value):
            value = asyncio.run(value)
        return Outcome("done", value)
    except BaseException as exc:  # noqa: BLE001 - the user's job: its outcome is data
        return Outcome("failed", exc)


def portable_error(exc: BaseException) -> BaseException:
    """``exc`` itself when it pickles and unpickles, else a ``JobError`` with its text."""
    try:
        pickle.loads(cloudpickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any pickling failure means: send text instead
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return JobError(f"{type(exc).__qualname__}: {exc}", type(exc).__qualname__, text)
    return exc
