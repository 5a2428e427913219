"""Calls handed over to the engine's loop thread from other threads, in batches.

    pool threads, Dask callbacks, callers ──put(fn, args)──► deque ──one call_soon_threadsafe──►
                                                                     loop thread: drain, in order
    callers that need the answer ──call(fn, args)──► the same, and wait for its result

Many job ends arriving at once cost one wake-up of the loop, not one each; a call made on the
loop thread itself runs at once. A call that raises is handed to ``on_error`` (the scheduler's:
it fails the job the call was about), never only logged: someone waits for what it would have done.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import InvalidStateError

__all__ = ["Inbox", "OnError"]

#: What to do when a handed-over call ``fn(*args)`` raised ``error``.
OnError = Callable[[Callable[..., None], tuple[Any, ...], Exception], None]

log = logging.getLogger("pylo.engine")
T = TypeVar("T")


class Inbox:
    """The hand-over to one loop thread (``open`` on it, ``close`` once it ended); a call that
    raises goes to ``on_error``, and the calls after it run all the same."""

    def __init__(self, on_error: OnError) -> None:
        self._on_error = on_error
        self.owner = 0  # the loop thread's ident; 0 while none runs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._calls: collections.deque[tuple[Callable[..., None], tuple[Any, ...]]] = collections.deque()
        self._lock = threading.Lock()
        self._scheduled = False

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called on the thread that runs ``loop``: it is the owner from now on."""
        self._loop, self.owner = loop, threading.get_ident()

    def close(self) -> None:
        self.owner = 0  # a later thread may be given the same ident

    def put(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop: now if on it, else soon, after every call put before."""
        if threading.get_ident() == self.owner:
            self._run(fn, args)
            return
        self._calls.append((fn, args))
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        try:
            assert self._loop is not None, "the inbox was never opened"
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop was closed: nobody waits for this any more
            log.debug("engine stopped; dropped %s", getattr(fn, "__name__", fn))

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the loop (after every call put before) and return its result, or
        raise what it raised, blocking the caller. ``InvalidStateError`` if it was never opened
        or is closed."""
        if self.owner == 0:
            raise InvalidStateError("the inbox is not open: nothing runs its loop")
        if threading.get_ident() == self.owner:
            return fn(*args)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - whatever it is, it is the caller's to see
                future.set_exception(exc)

        self.put(run)
        return future.result()

    def _drain(self) -> None:
        with self._lock:
            self._scheduled = False
        calls = self._calls
        while calls:
            fn, args = calls.popleft()
            self._run(fn, args)

    def _run(self, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - whatever it is, on_error decides
            # a call that raises is a bug of whoever handed it over: on_error hears of it, and
            # the calls after it still run
            self._on_error(fn, args, exc)
