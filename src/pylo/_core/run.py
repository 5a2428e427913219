"""The handle of a running execution: status, live progress, wait, cancel, ``await``.

Backends feed it: ``on_delta`` for each flush a worker reports, ``settle`` once at the end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from .block import Delta
from .status import Status, check_transition
from ..errors import PyloError

if TYPE_CHECKING:
    from .._ui.activity import Pictures
    from .summary import Summary

__all__ = ["Progress", "Run"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Progress:
    """Live counts of a run, from the workers' flushes (so at most one flush window behind)."""

    total: int
    finished: int
    failed: int
    attempts: int

    @property
    def pending(self) -> int:
        return self.total - self.finished - self.failed


class Run:
    """A submitted execution. ``wait()`` or ``await run`` for its end; ``cancel()`` to stop it."""

    #: Reads the execution's summary from the store (set by ``Pylo``; used by the HTML view).
    describe: Callable[[], Summary] | None = None
    #: Draws the execution's pictures from the store (set by ``Pylo``; used by the HTML view).
    draw: Callable[[], Pictures] | None = None

    def __init__(self, execution_id: str, total: int, *, on_cancel: Callable[[], None] = lambda: None) -> None:
        self.id = execution_id
        self.total = total
        self._status = Status.PENDING
        self._lock = threading.Lock()
        self._finished = self._failed = self._attempts = 0
        self._cancel_requested = threading.Event()
        self._on_cancel = on_cancel
        self._future: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._listeners: list[Callable[[Progress], None]] = []
        self._seen: set[tuple[int, int, str]] = set()

    def __repr__(self) -> str:
        p = self.progress()
        return f"<Run {self.id} {self.status.value}: {p.finished} finished, {p.failed} failed of {p.total}>"

    def _repr_html_(self) -> str:
        from .._ui.html import run_html

        return run_html(self)

    # -- read ----------------------------------------------------------------------------------

    @property
    def status(self) -> Status:
        return self._status

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested.is_set()

    def progress(self) -> Progress:
        with self._lock:
            return Progress(self.total, self._finished, self._failed, self._attempts)

    def done(self) -> bool:
        return self._future.done()

    # -- act -----------------------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> str:
        """Block until the run ends and return its execution id.

        A cancelled run returns too (its status says ``cancelled``; resume it to finish). Raises
        ``TimeoutError`` after ``timeout`` seconds and the run's own error if it failed. A ``KeyboardInterrupt`` while waiting
        cancels the run, waits for its workers to flush, and propagates.
        """
        try:
            return self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"execution {self.id} still running after {timeout}s") from None
        except KeyboardInterrupt:
            self.stop()
            raise

    def stop(self) -> None:
        """Cancel the run and block until its workers have flushed and stopped; raises nothing
        of the run's own (a second Ctrl-C stops the waiting)."""
        try:
            self.cancel()
        except PyloError:  # the cancel marker could not be written (store down): stop anyway
            log.exception("execution %s: could not record the cancel request", self.id)
        try:
            self._future.exception()
        except KeyboardInterrupt:
            pass

    def __await__(self) -> Generator[Any, None, str]:
        # Shielded: cancelling the awaiting task must not cancel the run's own future (the
        # backend settles it later); whoever awaits decides whether to cancel the run.
        return asyncio.shield(asyncio.wrap_future(self._future)).__await__()

    def cancel(self) -> None:
        """Ask the workers to stop between inputs; they flush and keep their state."""
        if not self._cancel_requested.is_set() and not self.done():
            self._cancel_requested.set()
            self._on_cancel()

    def note_cancelled(self) -> None:
        """Someone else (another client, the CLI) asked the run to stop: it ends ``cancelled``."""
        self._cancel_requested.set()

    def add_listener(self, listener: Callable[[Progress], None]) -> None:
        """Call ``listener(progress)`` after each flush a worker reports."""
        self._listeners.append(listener)

    # -- fed by the backend --------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            self._status = check_transition(self._status, Status.RUNNING)

    def on_delta(self, delta: Delta) -> None:
        with self._lock:
            if delta.writer:
                if delta.key in self._seen:
                    return  # a repeated event: this flush was counted already
                self._seen.add(delta.key)
            self._finished += delta.finished
            self._failed += delta.failed
            self._attempts += delta.attempts
        progress = self.progress()
        for listener in self._listeners:
            listener(progress)

    def reconcile(self, finished: int, failed: int) -> None:
        """Set the counts to what the store says (at the end of a run, or while attached)."""
        with self._lock:
            changed = (finished, failed) != (self._finished, self._failed)
            self._finished, self._failed = finished, failed
        if changed:
            progress = self.progress()
            for listener in self._listeners:
                listener(progress)

    def settle(self, error: BaseException | None = None) -> None:
        """End the run: done, cancelled (when asked to) or failed with ``error``."""
        if error is None:
            status = Status.CANCELLED if self.cancel_requested else Status.DONE
        else:
            status = Status.FAILED
        with self._lock:
            if self._status.settled:
                return
            if self._status is Status.PENDING:
                self._status = check_transition(self._status, Status.RUNNING)
            self._status = check_transition(self._status, status)
        if error is None:
            self._future.set_result(self.id)
        else:
            self._future.set_exception(error)
