"""The engine's cross-thread plumbing: the inbox of calls for its loop thread, the count of
unsettled jobs that ``wait`` and ``join`` wait on, and what a failed hand-over does to them."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import engine_tasks
from engine_helpers import ManualClock
from pylo import Status
from pylo.conditions import AfterTimepoint
from pylo.engine import Engine, LocalJob, ThreadJob
from pylo.engine._inbox import Inbox
from pylo.engine._scheduler import Scheduler
from pylo.engine._unsettled import Unsettled


def test_calls_from_other_threads_run_on_the_loop_in_order_with_one_wake_up() -> None:
    loop = asyncio.new_event_loop()
    inbox = Inbox(_unexpected)
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
    failed: list[tuple[Any, tuple[Any, ...], Exception]] = []
    inbox = Inbox(lambda fn, args, error: failed.append((fn, args, error)))
    seen: list[str] = []
    try:
        inbox.open(loop)  # this thread runs the loop (run_until_complete)
        inbox.put(seen.append, "now")
        assert seen == ["now"]
        putter = threading.Thread(target=lambda: (inbox.put(_raise, "late"), inbox.put(seen.append, "after")))
        putter.start()
        putter.join()
        loop.run_until_complete(asyncio.sleep(0))
        assert seen == ["now", "after"]
        inbox.put(_raise, "now")  # on the loop thread: to on_error as well, not to the caller
        assert [(fn, args, str(error)) for fn, args, error in failed] == [
            (_raise, ("late",), "'a broken hand-over: late'"), (_raise, ("now",), "'a broken hand-over: now'"),
        ]
    finally:
        loop.close()


def _raise(when: str) -> None:
    raise KeyError(f"a broken hand-over: {when}")


def _unexpected(fn: Any, args: tuple[Any, ...], error: Exception) -> None:
    raise AssertionError(f"{fn}{args} raised {error!r}")


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


def test_a_broken_count_fails_its_waiters_now_and_later() -> None:
    count = Unsettled()
    count.add()
    before = count.when_idle()
    assert before is not None
    count.break_with(KeyError("broken"))
    later = count.when_idle()
    assert later is not None
    for future in (before, later):
        assert isinstance(future.exception(0), KeyError)


# -- a bug in the scheduler reaches whoever waits -------------------------------------------------
# Each test plants a bug in a method of the scheduler that a hand-over calls, and bounds its wait:
# a failure that is only logged leaves the job running forever, and the wait times out.


def _planted(*args: Any) -> None:
    raise KeyError("a planted bug")


def test_a_scheduler_bug_in_a_hand_over_fails_its_job_and_ends_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    with Engine() as engine:
        job = ThreadJob(engine_tasks.add, (1, 2))
        with monkeypatch.context() as planted:
            planted.setattr(Scheduler, "_ended", _planted)  # taking in an attempt's outcome
            engine.submit(job)
            assert engine.wait(timeout=60)
        assert job.status is Status.FAILED
        with pytest.raises(KeyError, match="a planted bug"):
            job.result()


def test_a_scheduler_bug_in_a_timer_fails_the_job_it_was_armed_for(monkeypatch: pytest.MonkeyPatch, manual_clock: ManualClock) -> None:
    with Engine(clock=manual_clock) as engine:
        job = LocalJob(engine_tasks.add, (1, 2), condition=AfterTimepoint(manual_clock.time() + 10))
        with monkeypatch.context() as planted:
            planted.setattr(Scheduler, "_on_timer", _planted)
            engine.submit(job)
            manual_clock.advance(10)
            assert engine.wait(timeout=60)
        with pytest.raises(KeyError, match="a planted bug"):
            job.result()


def test_when_failing_the_job_fails_too_every_waiter_gets_the_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    with Engine() as engine:
        job = ThreadJob(engine_tasks.add, (1, 2))
        with monkeypatch.context() as planted:
            planted.setattr(Scheduler, "_ended", _planted)
            planted.setattr(Scheduler, "_settle", _planted)  # so no job can be failed either
            engine.submit(job)
            with pytest.raises(KeyError, match="a planted bug"):
                engine.wait(timeout=60)
            with pytest.raises(KeyError, match="a planted bug"):
                job.result(timeout=60)
            with pytest.raises(KeyError, match="a planted bug"):
                asyncio.run(engine.join(timeout=60))


def test_a_scheduler_bug_while_watching_a_status_ends_that_wait_and_spares_the_job(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    release = tmp_path / "release"
    with Engine() as engine:
        job = ThreadJob(engine_tasks.wait_for_file, (str(release),))
        engine.submit(job)
        with monkeypatch.context() as planted:
            planted.setattr(Scheduler, "_watch_status", _planted)
            with pytest.raises(KeyError, match="a planted bug"):
                asyncio.run(job.wait_until(lambda j: j.status is Status.DONE, timeout=60))
        release.touch()
        assert job.result(60) == str(release)  # the bug was the waiter's, not the job's
