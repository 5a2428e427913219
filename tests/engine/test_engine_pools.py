"""The engine's shared pools: how many workers they keep, and a detached thread's slot refilled."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from engine_helpers import wait_for
from pylo.engine._thread_pool import ThreadPool
from pylo.engine._workers import WorkerCount


def _steps(count: WorkerCount, steps: str) -> list[bool]:
    """Apply ``q`` (task queued), ``t`` (taken), ``e`` (ended), ``l`` (busy worker left); return
    whether each ``q``/``l`` started a worker."""
    act: dict[str, Callable[[], Any]] = {
        "q": count.task_queued, "t": count.task_taken, "e": count.task_ended, "l": count.worker_left,
    }
    return [started for s in steps if (started := act[s]()) is not None]


@pytest.mark.parametrize(
    ("size", "steps", "started", "live", "free", "queued"),
    [
        (2, "q", [True], 1, 1, 1),  # the first task starts a worker
        (2, "qt", [True], 1, 0, 0),
        (2, "qte", [True], 1, 1, 0),  # done: the worker is free again
        (2, "qteq", [True, False], 1, 1, 1),  # the free worker takes the next task
        (2, "qteqq", [True, False, True], 2, 2, 2),  # two back to back: a second worker
        (2, "qtq", [True, True], 2, 1, 1),  # the only worker is busy: a second one
        (2, "qtqq", [True, True, False], 2, 1, 2),  # full: the task waits
        # a task queued while full, taken by a worker that ended its own, then the other busy
        # worker is detached: the next task needs (and gets) a new worker. Counting the worker
        # that took the queued task as free once made that next task wait for ever.
        (2, "qtqqtetl", [True, True, False, False], 1, 0, 0),
        (2, "qtqqtetlq", [True, True, False, False, True], 2, 1, 1),
        (1, "qtlq", [True, False, True], 1, 1, 1),  # a detached worker's place is refilled
        (2, "qtqtlq", [True, True, False, True], 2, 1, 1),
        (1, "qqtl", [True, False, True], 1, 1, 1),  # the waiting task gets the refilled place
    ],
)
def test_worker_count(size: int, steps: str, started: list[bool], live: int, free: int, queued: int) -> None:
    count = WorkerCount(size)
    assert _steps(count, steps) == started
    assert (count.live, count.free, count.queued) == (live, free, queued)


def test_detached_thread_frees_its_place_after_a_reused_thread_took_a_queued_task() -> None:
    """With two threads, a thread that ended a task and took one queued while the pool
    was full was counted idle anyway; after detaching the other thread the next task waited."""
    pool = ThreadPool(2)
    second_running, third_running, queued_third = threading.Event(), threading.Event(), threading.Event()
    queued_second, release, fourth_ran = threading.Event(), threading.Event(), threading.Event()

    def third() -> None:
        third_running.set()
        release.wait(60)

    def after_first(_: Any) -> None:  # the engine starting the next job when one ends
        pool.submit(third, lambda _: None)
        queued_third.set()
        queued_second.wait(30)  # this thread ends its task only once the pool is full

    try:
        pool.submit(lambda: None, after_first)
        assert queued_third.wait(30)
        second = pool.submit(lambda: (second_running.set(), release.wait(60)), lambda _: None)
        queued_second.set()
        assert second_running.wait(30) and third_running.wait(30)
        pool.detach(second)  # the engine cancels it: its place is free again
        pool.submit(fourth_ran.set, lambda _: None)
        assert fourth_ran.wait(10), f"the fourth task waited for a busy thread: {pool._count!r}"
        assert not release.is_set()
    finally:
        release.set()
        pool.shutdown()


def test_two_tasks_queued_back_to_back_run_together() -> None:
    """One free thread and room for another: two tasks queued at once run at the same time."""
    pool = ThreadPool(2)
    first_done = threading.Event()
    both = threading.Barrier(2, timeout=30)
    met: list[bool] = []
    try:
        pool.submit(lambda: None, lambda _: first_done.set())
        assert first_done.wait(30)
        wait_for(lambda: pool._count.free == 1)  # the thread is back, waiting for a task
        for _ in range(2):
            pool.submit(both.wait, lambda outcome: met.append(outcome.status == "done"))
        wait_for(lambda: len(met) == 2, timeout=60)
        assert met == [True, True]
    finally:
        both.abort()
        pool.shutdown()
