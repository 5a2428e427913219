"""Helper threads: what they run, in which order, how they end, and that starting them waits for
no other pool of the process."""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.thread
import threading

import pytest

from pylo._core.background_writes import BackgroundWrites
from pylo._core.helper_threads import HelperThreads


def test_one_thread_runs_what_is_submitted_in_order_and_hands_back_results_and_errors() -> None:
    ran: list[int] = []
    with HelperThreads(1, "test") as pool:
        futures = [pool.submit(ran.append, i) for i in range(100)]
        failed = pool.submit(lambda: 1 / 0)
        assert pool.submit(lambda a, b=0: a + b, 2, b=3).result(30) == 5
    assert ran == list(range(100)) and all(f.result() is None for f in futures)
    with pytest.raises(ZeroDivisionError):
        failed.result()


def test_shutdown_runs_what_was_queued_and_refuses_more() -> None:
    ran: list[int] = []
    pool = HelperThreads(2, "test")
    for i in range(50):
        pool.submit(ran.append, i)
    pool.shutdown()  # waits for all of it
    assert sorted(ran) == list(range(50))
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)


def test_shutdown_can_cancel_what_has_not_started() -> None:
    entered, gate = threading.Event(), threading.Event()
    pool = HelperThreads(1, "test")
    running = pool.submit(lambda: entered.set() or gate.wait(30))
    queued = pool.submit(lambda: "never")
    assert entered.wait(30)
    pool.shutdown(wait=False, cancel_futures=True)  # the thread is still in the first call
    assert queued.cancelled()
    gate.set()
    assert running.result(30) is True


def test_starting_a_pool_waits_for_no_lock_the_standard_pools_share() -> None:
    # Every ThreadPoolExecutor of a process takes this lock at each submit and holds it while a
    # new thread starts: hundreds of workers in one process starting their writers waited in line.
    done = threading.Event()

    def start_and_use() -> None:
        with HelperThreads(2, "test") as pool:
            assert pool.submit(lambda: 7).result(30) == 7
        writes = BackgroundWrites(threads=1)
        writes.submit(lambda: None)
        writes.wait()
        writes.close()
        done.set()

    with concurrent.futures.thread._global_shutdown_lock:  # type: ignore[attr-defined]
        user = threading.Thread(target=start_and_use)
        user.start()
        assert done.wait(30)
    user.join(30)
