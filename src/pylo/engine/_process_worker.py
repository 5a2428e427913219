"""The loop of one worker process of the engine's process pool (runs in the child).

    parent ──cloudpickle(call)──► child: outcome = outcome_of(call) ──cloudpickle(outcome)──► parent

One call at a time, until the parent closes the pipe. Exceptions that cannot travel are sent as
``JobError`` text; a result that cannot travel fails the job with a clear message.
"""

from __future__ import annotations

import signal
from typing import Any

import cloudpickle

from ._outcome import Outcome, outcome_of, portable_error

__all__ = ["main"]


def main(conn: Any) -> None:
    """Serve calls from ``conn`` until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        conn.send_bytes(_answer(data))


def _answer(data: bytes) -> bytes:
    outcome = outcome_of(lambda: cloudpickle.loads(data)())
    if outcome.status == "failed":
        outcome = Outcome("failed", portable_error(outcome.value))
    try:
        return bytes(cloudpickle.dumps(outcome))
    except Exception as exc:  # noqa: BLE001 - an unpicklable result fails the job, not the worker
        error = TypeError(f"the job's result cannot be sent back: {type(exc).__name__}: {exc}")
        return bytes(cloudpickle.dumps(Outcome("failed", error)))
