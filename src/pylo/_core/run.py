"""The handle of a running execution: status, live progress, wait, cancel, ``await``.

Backends feed it: ``on_delta`` for each flush a worker reports, ``settle`` once at the end.

A ``Run`` answers what a ``concurrent.futures.Future`` answers (``result``, ``exception``,
``done``, ``running``, ``cancelled``, ``add_done_callback``), and ``run.future`` is such a future
for ``concurrent.futures.wait`` / ``as_completed``. A run of ``Pylo.dask`` is a Dask future too
(``pylo.backends._dask_run.DaskRun``), which Dask's ``wait``, ``as_completed``, ``progress`` and
``gather`` follow. A run on threads is not: Dask's ``wait``, ``progress`` and ``compute`` refuse
it with a ``TypeError`` that says what to use, instead of returning at once as they would for an
object they do not know (``as_completed`` refuses it with its own message).
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
from .tolerance import Stop, Tolerance, stop_for_error
from ..errors import PyloError

if TYPE_CHECKING:
    from .._ui.activity import Pictures
    from .summary import Summary

__all__ = ["NOT_A_DASK_FUTURE", "Progress", "Run"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Progress:
    """Live counts of a run, from the workers' flushes (so at most one flush window behind);
    ``ended``: whether the execution has ended (the counts are then the store's, final)."""

    total: int
    finished: int
    failed: int
    attempts: int
    ended: bool = False

    @property
    def pending(self) -> int:
        return self.total - self.finished - self.failed


#: What Dask's tools say when handed a ``Run`` of the thread backend.
NOT_A_DASK_FUTURE = (
    "a pylo Run on threads is not a Dask future (a run of Pylo.dask is), and Dask's wait/progress/compute "
    "cannot follow it: use run.result() or run.wait() (blocking), await run (asyncio), run.add_done_callback(fn), "
    "concurrent.futures.wait([run.future]) / as_completed(...) for several runs, and run.progress() for counts"
)


class Run:
    """A submitted execution. ``wait()``, ``result()`` or ``await run`` for its end; ``cancel()``
    to stop it; ``progress()`` for live counts."""

    #: Reads the execution's summary from the store (set by ``Pylo``; used by the HTML view).
    describe: Callable[[], Summary] | None = None
    #: Draws the execution's pictures from the store (set by ``Pylo``; used by the HTML view).
    draw: Callable[[], Pictures] | None = None

    def __init__(self, execution_id: str, total: int, *, on_cancel: Callable[[], None] = lambda: None,
                 on_stop: Callable[[Stop], None] | None = None) -> None:
        self.id = execution_id
        self.total = total
        self._status = Status.PENDING
        self._lock = threading.Lock()
        self._finished = self._failed = self._attempts = 0
        self._cancel_requested = threading.Event()
        self._cancel_hooks: list[Callable[[], None]] = []
        self._on_cancel = on_cancel
        # How a stop for a reason reaches the workers (the cancel path, the reason recorded first).
        self._on_stop = on_stop or (lambda stop: on_cancel())
        self._stop: Stop | None = None
        self._future: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._listeners: list[Callable[[Progress], None]] = []
        self._seen: set[tuple[int, int, str]] = set()

    def __repr__(self) -> str:
        p = self.progress()
        why = f" ({self.reason})" if self.reason else ""
        return f"<Run {self.id} {self.status.value}{why}: {p.finished} finished, {p.failed} failed of {p.total}>"

    # -- read ----------------------------------------------------------------------------------

    @property
    def status(self) -> Status:
        return self._status

    @property
    def stopped_by(self) -> Stop | None:
        """Why the run stopped before its end, when it was not asked to: its tolerance passed,
        or its store or cluster lost (``None`` otherwise)."""
        return self._stop

    @property
    def reason(self) -> str | None:
        """``stopped_by``'s line, e.g. "gave up: 101 failed inputs, tolerance 100" or "cluster lost:
        interrupted, resumable"."""
        return None if self._stop is None else self._stop.message

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested.is_set()

    def progress(self) -> Progress:
        with self._lock:
            return Progress(self.total, self._finished, self._failed, self._attempts, self._status.settled)

    def done(self) -> bool:
        """Whether the execution has ended (done, failed or cancelled)."""
        return self._future.done()

    def running(self) -> bool:
        return self._status is Status.RUNNING

    def cancelled(self) -> bool:
        """Whether the run ended cancelled (its workers flushed; resume it to finish)."""
        return self._status is Status.CANCELLED

    @property
    def future(self) -> concurrent.futures.Future[str]:
        """A ``concurrent.futures.Future`` of the execution id, settled when the run ends: for
        ``concurrent.futures.wait`` and ``as_completed``, ``asyncio.wrap_future``. Cancelling
        it does nothing (``run.cancel()`` stops the run)."""
        return self._future

    def result(self, timeout: float | None = None) -> str:
        """The execution id once the run has ended, as ``wait``: raises the run's own error if it
        failed and ``TimeoutError`` after ``timeout`` seconds."""
        return self.wait(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The run's own error once it has ended (``None`` when it did not fail); raises
        ``TimeoutError`` after ``timeout`` seconds."""
        try:
            return self._future.exception(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"execution {self.id} still running after {timeout}s") from None

    def add_done_callback(self, fn: Callable[[Run], object]) -> None:
        """Call ``fn(run)`` when the run ends, in the thread that ends it (at once if it has).
        What ``fn`` raises is logged and ignored, as ``concurrent.futures`` does."""
        self._future.add_done_callback(lambda _future: fn(self))

    def __dask_graph__(self) -> None:
        # Dask's tools ask every object they are handed for a graph; an object without one they
        # skip silently, which made distributed.wait([run]) return at once. Refuse instead.
        raise TypeError(NOT_A_DASK_FUTURE)

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

    def cancel(self) -> bool:
        """Ask the workers to stop between inputs; they flush and keep their state. A worker still
        stuck in a call ``cancel_grace`` seconds later is abandoned (a WARNING says so) and the
        run ends cancelled, that input pending. Returns whether this call asked (``False`` once
        the run has ended or was asked already)."""
        if not self._cancel_requested.is_set() and not self.done():
            self._request_cancel()
            self._on_cancel()
            return True
        return False

    def give_up(self, stop: Stop) -> None:
        """Stop the run for ``stop``'s reason: the workers of this process see it at once (a flag),
        the others through the cancel path, which runs on a thread of its own (this is called
        from a worker's flush or from a Dask event handler, which must not wait on the store)."""
        with self._lock:
            if self._stop is not None or self._cancel_requested.is_set() or self.done():
                return
            self._stop = stop
        self._request_cancel()
        log.warning("execution %s: %s; stopping every worker", self.id, stop.message)
        threading.Thread(target=self._stop_quietly, args=(stop,), name=f"pylo-{self.id}-stop", daemon=True).start()

    def _stop_quietly(self, stop: Stop) -> None:
        try:
            self._on_stop(stop)
        except PyloError:  # the workers of this process stopped already; the rest see the marker later
            log.exception("execution %s: could not record why it stops", self.id)

    def tolerate(self, tolerance: Tolerance) -> None:
        """Stop the run once its failed inputs pass ``tolerance`` (checked at every flush)."""
        if tolerance.limited:
            self.add_listener(lambda p: self._check(tolerance, p))

    def _check(self, tolerance: Tolerance, progress: Progress) -> None:
        stop = tolerance.passed(progress.failed, progress.finished + progress.failed)
        if stop is not None:
            self.give_up(stop)

    def note_cancelled(self) -> None:
        """Someone else (another client, the CLI) asked the run to stop: it ends ``cancelled``."""
        if not self._cancel_requested.is_set():
            self._request_cancel()

    def when_cancel_requested(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` once, as soon as the run is asked to stop (by whichever path)."""
        self._cancel_hooks.append(hook)

    def _request_cancel(self) -> None:
        self._cancel_requested.set()
        for hook in self._cancel_hooks:
            hook()

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
        """End the run: done, cancelled (when asked to) or failed with ``error``; ``reason``
        says so when the error interrupted it (store unreachable, cluster lost)."""
        if self._stop is None:
            self._stop = stop_for_error(error)
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
