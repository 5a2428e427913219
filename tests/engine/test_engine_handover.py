"""The engine's cross-thread plumbing: the inbox of calls for its loop thread, and the count of
unsettled jobs that ``wait`` and ``join`` wait on."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from pylo.engine._inbox import Inbox
from pylo.engine._unsettled import Unsettled


def test_calls_from_other_threads_run_on_the_loop_in_order_with_one_wake_up() -> None:
    loop = asyncio.new_event_loop()
    inbox = Inbox()
    seen: list[tuple[int, int]] = []
    wake_ups = 0
    real = loop.call_soon_threadsafe

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal wake_ups
        wake_ups += 1
        return real(*args, **kwargs)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    try:
        inbox.open(loop)  # this thread runs the loop (run_until_complete)
        putter = threading.Thread(target=lambda: [inbox.put(lambda i: seen.append((i, threading.get_ident())), i) for i in range(50)])
        putter.start()
        putter.join()
        loop.run_until_complete(asyncio.sleep(0))  # one turn of the loop drains the batch
        assert [i for i, _ in seen] == list(range(50))
        assert {ident for _, ident in seen} == {inbox.owner} and wake_ups == 1
    finally:
        loop.close()


def test_a_call_on_the_loop_thread_runs_at_once_and_a_failing_one_strands_no_other() -> None:
    loop = asyncio.new_event_loop()
    inbox = Inbox()
    seen: list[str] = []
    try:
        inbox.open(loop)  # this thread runs the loop (run_until_complete)
        inbox.put(seen.append, "now")
        assert seen == ["now"]
        putter = threading.Thread(target=lambda: (inbox.put(_raise), inbox.put(seen.append, "after")))
        putter.start()
        putter.join()
        loop.run_until_complete(asyncio.sleep(0))
        assert seen == ["now", "after"]
    finally:
        loop.close()


def _raise() -> None:
    raise KeyError("a broken hand-over")


def test_waiters_for_idle_are_woken_when_the_last_job_settles() -> None:
    count = Unsettled()
    assert count.when_idle() is None
    count.add()
    count.add()
    first = count.when_idle()
    assert first is not None
    count.settled()
    assert not first.done()
    timed_out = count.when_idle()
    assert timed_out is not None
    timed_out.cancel()  # a waiter that gave up
    count.settled()
    assert first.done() and count.when_idle() is None
