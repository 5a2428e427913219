"""Attempts with a time limit (``Config.timeout``).

    block loop ──value──► helper thread: task(value) ──outcome──► block loop
         └── waits at most ``timeout`` s; past it the helper is abandoned (it keeps running the
             hung call in the background) and a fresh helper takes the next attempt.

A Python thread cannot be killed, so a hung call is *abandoned*, not stopped: it holds whatever it
holds until it returns on its own, and its result is then thrown away. The worker moves on at once,
so one hung input never hangs the worker. This works the same on threads and on a Dask worker
(the helper runs in a copy of the caller's context, so ``distributed.get_worker()`` works there).
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["AttemptTimeout", "TimedCalls"]


class AttemptTimeout(TimeoutError):
    """An attempt ran longer than ``Config.timeout``; recorded as a failed attempt."""


class _Outcome:
    """The result of one attempt, handed from the helper thread to the caller."""

    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.value: object = None


class _Helper:
    """A daemon thread that runs attempts one at a time, until told to stop or abandoned."""

    def __init__(self, task: Callable[[Any], object]) -> None:
        self.task = task
        # The caller's context variables (Dask's ``get_worker()`` reads one), copied for this
        # helper alone: a context cannot be entered by two threads, and an abandoned helper may
        # still be inside it.
        self.context = contextvars.copy_context()
        self.inbox: queue.SimpleQueue[tuple[Any, _Outcome] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name="pylo-attempt", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while (item := self.inbox.get()) is not None:
            value, outcome = item
            try:
                outcome.value = self.context.run(self.task, value)
            except BaseException as exc:  # handed to the caller, which re-raises it there
                outcome.error = exc
            outcome.done.set()

    def stop(self) -> None:
        self.inbox.put(None)


class TimedCalls:
    """Calls ``task(value)`` on a helper thread and waits at most ``timeout`` seconds.

    Raises ``AttemptTimeout`` past the limit, and whatever the task raised otherwise (a
    ``KeyboardInterrupt`` or ``SystemExit`` included: it is re-raised in the caller's thread).
    """

    def __init__(self, task: Callable[[Any], object], timeout: float) -> None:
        self.task = task
        self.timeout = timeout
        self._helper: _Helper | None = None
        self.abandoned = 0

    def __call__(self, value: Any) -> object:
        helper = self._helper or _Helper(self.task)
        self._helper = helper
        outcome = _Outcome()
        helper.inbox.put((value, outcome))
        if not outcome.done.wait(self.timeout):
            self._helper = None  # left to finish on its own; its outcome is never read
            helper.stop()  # it exits as soon as the hung call returns
            self.abandoned += 1
            raise AttemptTimeout(f"attempt exceeded the timeout of {self.timeout:g}s (abandoned, still running)")
        if outcome.error is not None:
            error, outcome.error = outcome.error, None
            raise error
        return outcome.value

    def close(self) -> None:
        """Stop the helper thread (an abandoned one stops when its hung call returns)."""
        if self._helper is not None:
            self._helper.stop()
            self._helper = None
