"""Helpers of the engine tests: a clock advanced by hand, and a bounded wait."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any


def gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie counts: it runs no more). Unlike
    ``psutil.Process.wait`` it never reaps a child of this process, which belongs to its pool."""
    import psutil

    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> None:
    """Wait, boundedly, for something another thread or process makes true."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        pause.wait(0.005)


@contextlib.contextmanager
def reserved_port(ip: str = "127.0.0.1") -> Iterator[int]:
    """A free port, held bound (not listening) until the block ends, with ``SO_REUSEPORT``: a
    server that binds the same way (``engine_tasks.serve_sharing_port``) can take it, while no
    other program, nor the kernel handing out ports for outgoing connections, can take it between
    the choice of the port and the server's start. Connecting to it is refused until that server
    listens, and again once it is gone."""
    with socket.socket() as held:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        held.bind((ip, 0))
        yield int(held.getsockname()[1])


class ManualClock:
    """Wall time that moves only when ``advance`` is called; timers fire then (on the caller's
    thread; the engine hands them over to its loop)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self._timers: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(when, callback)
        with self._lock:
            heapq.heappush(self._timers, (when, next(self._seq), timer))
        return timer

    def armed(self) -> list[float]:
        """The times of the timers not cancelled nor fired yet."""
        with self._lock:
            return sorted(t.when for _, _, t in self._timers if not t.cancelled)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while True:
            with self._lock:
                if not self._timers or self._timers[0][0] > self.now:
                    return
                _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.callback()


class _Timer:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when, self.callback = when, callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
