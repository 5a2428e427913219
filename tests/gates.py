"""Gates that order threads in tests without sleeping."""

from __future__ import annotations

import threading


class SecondCaller:
    """A lock that says when a second caller has been through it: stands in for the lock of a
    ``SharedCalls``, so a test knows the second caller found the first one's call under way."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._passes = 0
        self.second = threading.Event()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._passes += 1
        if self._passes == 2:
            self.second.set()
        self._lock.release()
