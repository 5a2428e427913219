"""The bugs of the original pylo, one regression test each (numbered as they were found): empty
inputs, generators, a quadratic queue, state lost to a crash between flushes, torn writes under
SIGKILL, unpicklable exceptions, listing order, a failure budget eaten by one input, cancel."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

import tasks
from pylo import Pylo, Status


@pytest.fixture
def pylo(tmp_path: Any) -> Pylo:
    return Pylo.local_multithread(str(tmp_path / "store"), number_of_workers=2)


def _pylo_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("pylo-")]


def test_bug1_empty_inputs_and_resuming_a_finished_execution(pylo: Pylo) -> None:
    empty = pylo.start_from_scratch([], tasks.noop)
    assert pylo.get_state(empty) == ([], [])
    assert pylo.summary(empty).total == 0
    done = pylo.start_from_scratch([1, 2, 3], tasks.noop)
    again = pylo.start_from_past_execution(done, tasks.noop)
    assert pylo.get_state(again) == ([1, 2, 3], [])
    third = pylo.start_from_past_execution(again, tasks.noop)  # nothing left: a new, empty execution
    assert third not in (done, again) and pylo.executions() == [empty, done, again, third]
    summary = pylo.summary(third)
    assert (summary.parent, summary.total, summary.finished, summary.inherited) == (again, 3, 3, 3)
    assert pylo.get_state(third) == ([1, 2, 3], []) and pylo.get_exceptions(third) == []


def test_bug2_a_generator_as_inputs(pylo: Pylo) -> None:
    eid = pylo.start_from_scratch((x * 2 for x in range(25)), tasks.noop)
    assert pylo.get_state(eid) == ([x * 2 for x in range(25)], [])


@pytest.mark.timeout(60)
def test_bug3_one_worker_with_a_million_inputs_is_linear(tmp_path: Any) -> None:
    # The original's list.pop(0) made this quadratic: ~100 s for 10^6 inputs. A timeout, not a
    # timing assertion: linear work finishes in about a second, quadratic work never in 60 s.
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1)
    eid = pylo.start_from_scratch(range(1_000_000), tasks.fail_multiples_of_7)
    resumed = pylo.start_from_past_execution(eid, tasks.noop)
    assert pylo.summary(resumed).finished == 1_000_000


class StopHere(BaseException):
    """Stands for a crash: a BaseException the worker must not swallow."""


def _fail_3_crash_at_6(x: int) -> None:
    if x == 3:
        raise ValueError("three")
    if x == 6:
        raise StopHere()


def test_bug4_failures_and_successes_are_flushed_before_a_crash(tmp_path: Any) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1)
    run = pylo.submit(range(10), _fail_3_crash_at_6)
    with pytest.raises(StopHere):
        run.wait()
    assert run.status is Status.FAILED
    summary = pylo.summary(run.id)
    # Far below the default flush of 1000, yet 0-2, 4-5 are finished and 3 failed, on record.
    assert (summary.finished, summary.failed, summary.pending) == (5, 1, 4)
    assert [r.input for r in pylo.get_exceptions(run.id)] == [3]
    resumed = pylo.start_from_past_execution(run.id, tasks.noop)
    assert pylo.get_state(resumed) == (list(range(10)), [])


class TickingClock:
    """Time advances only when the task says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class _Reports:
    """The finished counts a run reports, one per flush written; ``wait(n)`` blocks until the
    count ``n`` has been reported (a write in the background, while the task goes on)."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.changed = threading.Condition()

    def __call__(self, progress: Any) -> None:
        with self.changed:
            self.seen.append(progress.finished)
            self.changed.notify_all()

    def wait(self, n: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: n in self.seen, timeout=30)


def _watched(pylo: Pylo, n: int, task: Callable[[int], None], reports: _Reports) -> Any:
    """Run ``task`` over ``range(n)`` in one block (a generator: blocks of ``block_size``, which
    no count shrinks) with ``reports`` listening from before the first input."""
    listening = threading.Event()
    inputs = (x for x in range(n))

    def first_waits(x: int) -> None:
        if x == 0:
            assert listening.wait(30)  # nothing flushes before the listener is attached
        task(x)

    run = pylo.submit(inputs, first_waits)
    run.add_listener(reports)
    listening.set()
    run.wait()
    return run


def test_bug4_flush_interval_bounds_what_a_crash_can_lose(tmp_path: Any) -> None:
    clock = TickingClock()
    reports = _Reports()

    def slow(x: int) -> None:  # each input "takes" 4 s
        if x in (3, 6):  # the window before was written while the block ran, not at its end
            assert reports.wait(x)
        clock.now += 4.0

    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1, clock=clock, flush_interval=10.0)
    run = _watched(pylo, 9, slow, reports)
    segments = pylo.store.files.find(pylo.store.layout.progress_dir(run.id))
    # A flush every third input (12 s > 10 s): 3 segments, never 1000 inputs at risk.
    assert len(segments) == 3 and reports.seen == [3, 6, 9]
    assert pylo.get_state(run.id) == (list(range(9)), [])


def test_bug5_writes_are_atomic_under_sigkill(tmp_path: Any) -> None:
    objects = tmp_path / "objects"
    objects.mkdir()
    script = f"""
from pylo.store._fs import Files
files = Files({str(objects)!r})
blob = bytes(range(256)) * 8_000           # 2 MB: a write takes a while
for i in range(200):                       # bounded: stops by itself at 400 MB
    files.put(files.root + f"/obj-{{i:05d}}", blob)
    print("wrote", i, flush=True)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        for i in range(3):  # blocks on the child's lines (the test's timeout bounds it), no polling
            assert proc.stdout.readline() == f"wrote {i}\n".encode()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    complete = bytes(range(256)) * 8_000
    names = [n for n in os.listdir(objects) if n.startswith("obj-")]
    assert len(names) >= 3
    for name in names:  # every visible object is whole; partial writes stay in hidden temp files
        assert (objects / name).read_bytes() == complete, name


def test_bug6_an_unpicklable_exception_does_not_kill_the_worker(tmp_path: Any) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1)

    def task(x: int) -> None:
        if x % 3 == 0:
            tasks.raise_unpicklable(x)
        if x % 3 == 1:
            tasks.raise_with_args(x)

    eid = pylo.start_from_scratch(range(12), task)
    finished, unfinished = pylo.get_state(eid)
    assert finished == [2, 5, 8, 11]
    records = pylo.get_exceptions(eid)
    assert len(records) == 8
    assert [r.exception is None for r in records[:2]] == [True, False]
    assert records[1].exception.code == 1  # type: ignore[union-attr]  # extra __init__ args load back


def test_bug7_results_do_not_depend_on_listing_order(tmp_path: Any) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=3, block_size=1)
    inputs = list(range(30))  # 30 blocks: "10" sorts before "2" as text
    eid = pylo.start_from_scratch(inputs, tasks.fail_multiples_of_7)
    assert pylo.get_state(eid) == ([x for x in inputs if x % 7], [0, 7, 14, 21, 28])
    assert [r.input for r in pylo.get_exceptions(eid)] == [0, 7, 14, 21, 28]


def test_bug8_a_permanent_failure_does_not_eat_the_budget(tmp_path: Any) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1, retries=2)
    eid = pylo.start_from_scratch(["poison", *range(5)], lambda x: tasks.always_fail(x) if x == "poison" else None)
    summary = pylo.summary(eid)
    assert summary.workers[0].failed_attempts == 3  # 1 + 2 retries, not 1000
    assert (summary.finished, summary.failed) == (5, 1)


def test_bug9_cancel_stops_between_inputs_and_keeps_state(tmp_path: Any) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1, task_executions_before_flush=1)
    reached, release = threading.Event(), threading.Event()

    def task(x: int) -> None:
        if x == 5:
            reached.set()
            release.wait(30)

    run = pylo.submit(range(100), task)
    assert reached.wait(30)
    seen: list[int] = []
    run.add_listener(lambda p: seen.append(p.finished))
    run.cancel()
    release.set()
    assert run.wait(30) == run.id
    assert run.status is Status.CANCELLED
    summary = pylo.summary(run.id)
    assert summary.finished == 6 and summary.pending == 94
    assert run.progress().finished == 6 and seen
    assert not _pylo_threads()
    assert pylo.get_state(pylo.start_from_past_execution(run.id, tasks.noop)) == (list(range(100)), [])


def test_bug9_ctrl_c_cancels_flushes_and_ends_the_worker_threads(tmp_path: Any) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=2, task_executions_before_flush=1)
    main = threading.main_thread().ident
    assert main is not None
    sent = threading.Event()

    def task(x: int) -> None:
        if x == 50 and not sent.is_set():
            sent.set()
            signal.pthread_kill(main, signal.SIGINT)  # a real Ctrl-C, delivered to the caller

    with pytest.raises(KeyboardInterrupt):
        pylo.start_from_scratch(range(1000), task)
    assert not _pylo_threads()
    [eid] = pylo.executions()
    summary = pylo.summary(eid)
    assert summary.finished > 0 and summary.pending > 0  # stopped part way, progress on record
    finished, unfinished = pylo.get_state(pylo.start_from_past_execution(eid, tasks.noop))
    assert finished == list(range(1000)) and unfinished == []


def test_progress_is_reported_while_running(tmp_path: Any) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1, task_executions_before_flush=10)
    reports = _Reports()

    def task(x: int) -> None:
        if x and x % 10 == 0:  # the window before was reported while the block runs
            assert reports.wait(x)

    run = _watched(pylo, 200, task, reports)
    # One report per flush, in order, none lost (flushes gather into one write only when a
    # window of tasks runs faster than a write, which the waits above rule out here).
    assert reports.seen == list(range(10, 201, 10))
    assert run.progress().finished == 200


def test_a_relative_store_path_means_the_same_place_everywhere(tmp_path: Any, monkeypatch: Any) -> None:
    import pickle

    from pylo.store import Store

    monkeypatch.chdir(tmp_path)
    store = Store("relative/store")
    assert store.url == str(tmp_path / "relative" / "store")
    monkeypatch.chdir("/")  # a Dask worker elsewhere unpickles it
    assert pickle.loads(pickle.dumps(store)).url == str(tmp_path / "relative" / "store")


def test_bug9_ctrl_c_while_the_run_is_being_launched_stops_it(tmp_path: Any) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=2, task_executions_before_flush=1)
    runs: list[Any] = []
    started, registered = threading.Event(), threading.Event()

    def task(x: int) -> None:
        started.set()
        if x >= 3:  # hold the workers until the cancel arrives, so it lands mid-run
            assert registered.wait(30) and runs[0]._cancel_requested.wait(30)

    def start() -> Any:
        runs.append(pylo.submit(range(1000), task))
        registered.set()
        assert started.wait(30)
        raise KeyboardInterrupt  # lands after the launch, before the caller reaches wait()

    with pytest.raises(KeyboardInterrupt):
        pylo._blocking(start, progress=False)
    assert runs[0].status is Status.CANCELLED and not _pylo_threads()
    summary = pylo.summary(runs[0].id)
    assert summary.pending > 0 and summary.finished + summary.failed + summary.pending == 1000
    assert pylo.get_state(pylo.start_from_past_execution(runs[0].id, tasks.noop, progress=False))[1] == []


def test_cancel_does_not_wait_out_a_retry_delay(tmp_path: Any) -> None:
    clock = TickingClock()
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1, clock=clock, retries=3, retry_delay=600.0)
    runs: list[Any] = []
    registered = threading.Event()

    def task(x: int) -> None:
        if x == 2:
            assert registered.wait(30)
            runs[0].cancel()  # stands for a cancel from the caller during the retry wait
            raise ValueError("retry me in ten minutes")

    runs.append(pylo.submit(range(10), task))
    registered.set()
    runs[0].wait(30)
    assert runs[0].status is Status.CANCELLED
    assert clock.now < 600.0  # the delay was cut short, not slept
    summary = pylo.summary(runs[0].id)
    assert (summary.finished, summary.failed, summary.pending) == (2, 1, 7)
