"""A heartbeat: one thread per worker (or per claiming client) that keeps its lease fresh in the
store and looks for the cancel marker, each at a bounded rate.

    every `interval` s:  PUT leases/{name}.json  (renewed, expires)        ─► others see "alive"
    every `poll` s:      GET cancel.json (one request; missing = not yet)  ─► stop() returns True
                         (one GET a poll for all the heartbeats of an execution in one process:
                         a look younger than a poll answers for them all)

The loop between inputs only reads a flag, so a check costs nothing there, and a store request
rate of ``1/interval + 1/poll`` per worker is independent of how fast the task runs (the periods
and the budget they make: ``_cadence``). What is due when is decided by ``tick`` on an injected
clock; the thread only waits between ticks. The thread does not survive ``os.fork``: a forked
child never renews (nor ends) its parent's lease.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import PyloError
from ._leases import abandoned_here
from ._shared_calls import SharedCalls

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["Heartbeat"]

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews ``{execution}/leases/{name}`` every ``interval`` s; with ``watch_cancel``, polls the
    cancel marker every ``poll`` s and then ``cancelled`` turns true. ``grace``: seconds after it
    saw the cancel that the lease is still renewed; then it is ended, for whoever waits for the
    worker (a Dask driver waits for its workers' leases), even though the worker is stuck in a
    call that never returns (its outcome is recorded by whoever waited). ``clock``: monotonic
    seconds (injected by tests, which then call ``tick`` themselves instead of ``start``)."""

    def __init__(self, store: Store, execution: str, name: str, *, interval: float, poll: float,
                 watch_cancel: bool = True, grace: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.execution, self.name = store, execution, name
        self.interval, self.poll, self.watch_cancel = interval, poll, watch_cancel
        self.grace = grace
        self.clock = clock
        self._cancelled_at: float | None = None  # when the cancel was seen, on ``clock``
        self.writer = uuid.uuid4().hex[:12]
        self._cancelled = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_renew = self._next_poll = math.inf
        self.lost = False  # the store could not be reached for a renewal

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def begin(self) -> Heartbeat:
        """Write the lease and schedule the next requests, without a thread (see ``tick``)."""
        self._renew()  # the lease exists before the first input runs
        now = self.clock()
        self._next_renew = now + self.interval
        self._next_poll = now + self.poll if self.watch_cancel else math.inf
        return self

    def start(self) -> Heartbeat:
        """``begin``, then a thread that ticks whenever a request is due."""
        self.begin()
        self._thread = threading.Thread(target=self._beat, name=f"pylo-heartbeat-{self.name}", daemon=True)
        self._thread.start()
        return self

    def tick(self, now: float) -> float:
        """Make the requests due at ``now`` (the clock's seconds): a cancel poll, a lease renewal;
        return when the next one is due."""
        if now >= self._next_poll:
            looked = now if self._cancelled.is_set() else self._look_for_cancel(now)
            self._next_poll = looked + self.poll  # what it knows is never more than a poll old
        if self._past_grace(now):
            self._give_up_waiting()
            self._stop.set()  # no more renewals: the lease says ended
            return now
        if now >= self._next_renew:
            self._renew()
            self._next_renew = now + self.interval
        return min(self._next_renew, self._next_poll)

    def end(self) -> None:
        """Stop renewing and mark the lease ended, so no one waits for it to expire."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._end_lease()

    def _end_lease(self) -> None:
        try:
            self.store.write_lease(self.execution, self.name, self.writer, self.interval, ended=True)
        except PyloError:
            abandoned_here(self.writer)  # this process knows it ended; the others wait for its expiry
            log.warning("execution %s: could not end the lease %s; it expires on its own", self.execution, self.name)

    def abandon(self) -> None:
        """Stop renewing without writing (the store is unreachable): the lease expires by itself,
        and this process knows at once that nothing renews it any more."""
        self._stop.set()
        abandoned_here(self.writer)

    def _beat(self) -> None:
        due = min(self._next_renew, self._next_poll)
        while not self._stop.wait(max(0.0, due - self.clock())):
            due = self.tick(self.clock())

    def check_cancel(self, within: float = 0.0) -> bool:
        """Look for the cancel marker now (one GET), or take the look another heartbeat of this
        execution in this process made less than ``within`` seconds ago or is making; return
        whether the run was cancelled."""
        if not self._cancelled.is_set():
            if within > 0:
                seen = _LOOKS.look(self._looks_key, self.clock(), within, self._read_cancel)
                if seen is not None and seen[1]:
                    self._saw_cancel()
            else:
                self._check_cancel()
        return self.cancelled

    def _past_grace(self, now: float) -> bool:
        at = self._cancelled_at
        return self.grace is not None and at is not None and now - at > self.grace

    def _give_up_waiting(self) -> None:
        log.warning("execution %s: %s still running %g s after the cancel: its lease is ended, and "
                    "the call it is stuck in is abandoned (set timeout= to bound every attempt)",
                    self.execution, self.name, self.grace)
        self._end_lease()

    def _look_for_cancel(self, now: float) -> float:
        """A poll: the answer of another heartbeat of this execution in this process, when it
        looked less than a poll ago or is looking now; else a look of its own. Returns when the
        look it took was."""
        seen = _LOOKS.look(self._looks_key, now, self.poll, self._read_cancel)
        if seen is None:  # the look failed (said in the log): the next poll looks again
            return now
        looked, cancelled = seen
        if cancelled:
            self._saw_cancel()
        return looked

    @property
    def _looks_key(self) -> Key:
        return (self.store.url, self.execution, self.clock)

    def _read_cancel(self) -> bool | None:
        """One look at the marker: whether it is there, ``None`` when the store did not answer."""
        try:
            return self.store.cancel_requested(self.execution)
        except PyloError:
            log.warning("execution %s: could not look for a cancel request", self.execution)
            return None

    def _check_cancel(self) -> None:
        cancelled = self._read_cancel()
        if cancelled is None:
            return
        _LOOKS.record(self._looks_key, self.clock(), cancelled)
        if cancelled:
            self._saw_cancel()

    def _saw_cancel(self) -> None:
        if self._cancelled_at is None:
            self._cancelled_at = self.clock()
        self._cancelled.set()

    def _renew(self) -> None:
        try:
            self.store.write_lease(self.execution, self.name, self.writer, self.interval)
            self.lost = False
        except PyloError:
            self.lost = True
            log.warning("execution %s: could not renew the lease %s", self.execution, self.name)


Key = tuple[str, str, Callable[[], float]]  # store, execution, clock


class _Looks:
    """The latest look for the cancel marker of each execution by the heartbeats of this process.
    Hundreds of workers of one process each looked every 0.2 s on local disk (1,280 reads a second
    for 256 workers, each a system call for which a worker takes the interpreter from the tasks);
    a look younger than a poll answers for all of them, and so does a look under way (workers that
    start together poll together: on an object store all of them asked while the first GET ran).
    A cancel, once seen, stays seen."""

    _KEPT = 64  # executions remembered, the newest

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[Key, tuple[float, bool]] = {}
        self._flights: SharedCalls[tuple[float, bool] | None] = SharedCalls()

    def look(self, key: Key, now: float, within: float,
             read: Callable[[], bool | None]) -> tuple[float, bool] | None:
        """(when, what it found) of a look of less than ``within`` seconds ago, of the look under
        way, or of a look made now with ``read``; ``None`` when that look failed."""
        with self._lock:
            found = self._seen.get(key)
        if found is not None and 0 <= now - found[0] < within:
            return found
        return self._flights.call(key, lambda: self._look_now(key, now, read))

    def _look_now(self, key: Key, now: float, read: Callable[[], bool | None]) -> tuple[float, bool] | None:
        cancelled = read()
        if cancelled is None:
            return None
        self.record(key, now, cancelled)
        return self._seen_at(key, now)

    def _seen_at(self, key: Key, now: float) -> tuple[float, bool]:
        with self._lock:
            return self._seen.get(key, (now, False))

    def record(self, key: Key, at: float, cancelled: bool) -> None:
        with self._lock:
            before = self._seen.pop(key, None)
            self._seen[key] = (at, cancelled or (before is not None and before[1]))
            while len(self._seen) > self._KEPT:
                del self._seen[next(iter(self._seen))]


_LOOKS = _Looks()
