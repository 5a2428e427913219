"""Helper threads that start without waiting for every other pool of the process.

``concurrent.futures.ThreadPoolExecutor`` takes one lock shared by every pool of the process at
each submit, and holds it while a new thread starts. Starting a thread waits until the new thread
has run, which in a process whose interpreter is saturated (hundreds of Dask workers in one
process) can take a second: each Pylo worker starting its writer then waited in line behind the
others, and one 512-worker run took over seventeen minutes instead of eighteen seconds. Here
each pool starts its own threads, at its first submit, and waits for nobody else's.

The threads are daemons: whoever owns a pool waits for what it submitted (``BackgroundWrites``
waits for every write before a worker records its end), so a thread left at the interpreter's
exit holds nothing that was promised.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["HelperThreads"]

T = TypeVar("T")

_Item = tuple[Callable[[], Any], "concurrent.futures.Future[Any]"]


class HelperThreads(concurrent.futures.Executor):
    """``threads`` daemon threads that run what is submitted, in the order submitted."""

    def __init__(self, threads: int, name: str) -> None:
        self.size, self.name = max(1, threads), name
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()  # this pool's own: its first submit starts its threads
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: cannot submit after shutdown")
            if not self._threads:
                self._threads = [threading.Thread(target=self._serve, name=f"{self.name}-{i}", daemon=True)
                                 for i in range(self.size)]
                for thread in self._threads:
                    thread.start()
        self._queue.put((lambda: fn(*args, **kwargs), future))
        return future

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            call, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the result
                future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """End the threads once what was submitted ran (``cancel_futures``: what had not
        started is cancelled); ``wait``: until they have ended."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = self._threads
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[1].cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()
