"""The scheduler built and run alone: no ``Engine``, a loop thread of the test's own, the pools it
is lent by a stand-in, and a clock advanced by hand."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import engine_tasks
from engine_helpers import ManualClock, wait_for
from pylo import Status
from pylo.conditions import AfterAnother, AfterTimepoint
from pylo.engine import LocalJob, ThreadJob
from pylo.engine._job_records import RecordStore, RecordWriter
from pylo.engine._process_pool import ProcessPool
from pylo.engine._scheduler import Scheduler
from pylo.engine._slots import Slots
from pylo.engine._thread_pool import ThreadPool
from pylo.errors import InvalidStateError


class ThreadsOnly:
    """Lends a thread pool; the other resources are not for these tests."""

    def __init__(self) -> None:
        self.threads = ThreadPool(2, name="pylo-test-scheduler")

    def thread_pool(self) -> ThreadPool:
        return self.threads

    def process_pool(self) -> ProcessPool:
        raise AssertionError("no process pool is lent here")

    @property
    def dask_client(self) -> Any:
        raise AssertionError("no Dask client is lent here")


@contextlib.contextmanager
def running(scheduler: Scheduler, clock: ManualClock, records: RecordWriter | None = None) -> Iterator[Scheduler]:
    """``scheduler`` opened on a loop that a thread of this test runs, until the block ends."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        scheduler.open(loop, clock, records)
        loop.call_soon(ready.set)
        loop.run_forever()

    thread = threading.Thread(target=serve, name="test-scheduler-loop", daemon=True)
    thread.start()
    ready.wait()
    try:
        yield scheduler
    finally:
        scheduler.call(scheduler.cancel_all, "the test ended")
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        scheduler.close()
        loop.close()


@pytest.fixture
def lent() -> Iterator[ThreadsOnly]:
    resources = ThreadsOnly()
    yield resources
    resources.threads.shutdown()


def test_a_scheduler_that_runs_on_no_loop_refuses_calls(lent: ThreadsOnly) -> None:
    scheduler = Scheduler(Slots(None, {}), lent)
    with pytest.raises(InvalidStateError, match="not open"):
        scheduler.call(scheduler.take, [ThreadJob(engine_tasks.add, (1, 2))])


def test_a_scheduler_alone_runs_jobs_under_its_limit(lent: ThreadsOnly, manual_clock: ManualClock, tmp_path: Any) -> None:
    release = tmp_path / "release"
    first = ThreadJob(engine_tasks.wait_for_file, (str(release),))
    second = ThreadJob(engine_tasks.add, (1, 2))
    with running(Scheduler(Slots(1, {}), lent), manual_clock) as scheduler:
        scheduler.call(scheduler.take, [first, second])
        assert (first.status, second.status) == (Status.RUNNING, Status.PENDING)  # one slot
        assert scheduler.slots.running_total == 1
        release.touch()
        assert second.future.result(60) == 3 and first.future.result(60) == str(release)
        assert scheduler.slots.running_total == 0 and not scheduler.unsettled.when_idle()
        assert first.engine is None  # a scheduler that serves no engine lends its jobs none


def test_conditions_are_asked_of_a_scheduler_that_serves_no_engine(lent: ThreadsOnly, manual_clock: ManualClock) -> None:
    earlier = "a" * 32  # a job that settled before, as a store tells a restarted engine
    after_it = LocalJob(engine_tasks.add, (1, 1), condition=AfterAnother(earlier, statuses=["done"]))
    later = LocalJob(engine_tasks.add, (2, 2), condition=AfterTimepoint(manual_clock.time() + 10))
    with running(Scheduler(Slots(None, {}), lent), manual_clock) as scheduler:
        scheduler.know(earlier, Status.DONE)
        scheduler.call(scheduler.take, [after_it, later])
        assert after_it.future.result(60) == 2
        assert later.status is Status.PENDING and manual_clock.armed() == [manual_clock.time() + 10]
        manual_clock.advance(10)
        assert later.future.result(60) == 4
        assert scheduler.stats.deadline_wakeups == 1


def test_a_failed_attempt_is_retried_when_the_schedulers_clock_says(lent: ThreadsOnly, manual_clock: ManualClock) -> None:
    job = ThreadJob(engine_tasks.boom, ("again",), retries=1, retry_time_delta=5)
    with running(Scheduler(Slots(None, {}), lent), manual_clock) as scheduler:
        scheduler.call(scheduler.take, [job])
        wait_for(lambda: manual_clock.armed() == [manual_clock.time() + 5])  # the retry's timer
        assert job.status is Status.PENDING and job.attempts == 1
        manual_clock.advance(5)
        with pytest.raises(ValueError, match="again"):
            job.future.result(60)
        assert job.attempts == 2 and scheduler.stats.retries == 1


def test_a_scheduler_given_a_record_writer_records_each_status_change(
    lent: ThreadsOnly, manual_clock: ManualClock, tmp_path: Any
) -> None:
    store = RecordStore(tmp_path / "store")
    writer = RecordWriter(store)
    job = ThreadJob(engine_tasks.add, (1, 2), name="adding")
    with running(Scheduler(Slots(None, {}), lent), manual_clock, writer) as scheduler:
        scheduler.call(scheduler.take, [job])
        assert job.future.result(60) == 3
    writer.shutdown()
    [(record, spec)] = store.read_all()
    assert (record.id, record.name, record.status, record.attempts) == (job.id, "adding", Status.DONE, 1)
    assert spec is not None  # importable: a restarted engine could rebuild it
