"""The tolerance of a whole run (``max_failures``, ``max_failure_rate``): past it every worker
stops, what they did is flushed, the rest stays pending and every view says why — on threads and
on Dask. The deciding logic is pure and tested as a table."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest

import tasks
from pylo import InvalidArgument, Pylo, Status
from pylo._core.summary import ExecutionStatus
from pylo._core.tolerance import MIN_RATE_SAMPLE, UNENDED, UNREQUESTED, Stop, StopKind, Tolerance, ending

N, FIRST_FAILING, TOLERATED, WORKERS = 6000, 2000, 100, 2
GAVE_UP = re.compile(r"gave up: (\d+) failed inputs, tolerance 100")


# -- the decision ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("tolerance", "failed", "concluded", "stops"), [
    (Tolerance(), 10**6, 10**6, False),  # no limit
    (Tolerance(max_failures=100), 100, 5000, False),
    (Tolerance(max_failures=100), 101, 5000, True),
    (Tolerance(max_failures=0), 1, 1, True),
    (Tolerance(max_failure_rate=0.01, total=10_000), 2, 50, False),  # too few concluded to judge the rate
    (Tolerance(max_failure_rate=0.01, total=10_000), 2, MIN_RATE_SAMPLE, True),  # 2 % of 100 concluded
    (Tolerance(max_failure_rate=0.01, total=10_000), 10, 5000, False),  # 0.2 %
    (Tolerance(max_failure_rate=0.01, total=10_000), 101, 101, True),  # past 1 % of all inputs already
    (Tolerance(max_failure_rate=0.5, total=10), 5, 6, False),  # a small run: judged on its size
    (Tolerance(max_failure_rate=0.5, total=10), 6, 6, True),
    (Tolerance(max_failure_rate=0.0, total=10), 1, 1, True),
    (Tolerance(max_failure_rate=1.0, total=10), 10, 10, False),  # every input may fail
])
def test_the_tolerance_decision(tolerance: Tolerance, failed: int, concluded: int, stops: bool) -> None:
    stop = tolerance.passed(failed, concluded)
    assert (stop is not None) == stops
    if stop is not None:
        assert stop.kind is StopKind.TOLERANCE and stop.message.startswith(f"gave up: {failed} failed")


def test_the_messages_name_the_count_and_the_tolerance() -> None:
    assert Tolerance(max_failures=100).passed(101, 3000) == Stop(
        StopKind.TOLERANCE, "gave up: 101 failed inputs, tolerance 100")
    assert Tolerance(max_failures=0).passed(1, 1) == Stop(StopKind.TOLERANCE, "gave up: 1 failed input, tolerance 0")
    stop = Tolerance(max_failure_rate=0.01, total=10_000).passed(3, 200)
    assert stop is not None and stop.message == "gave up: 3 failed of 200 inputs run (1.5 %), tolerance 1 %"


@pytest.mark.parametrize(("options", "failed", "concluded", "waits"), [
    ({}, 5, 10, False),  # no tolerance: flushes as usual
    ({"max_failures": 10**6}, 1, 10**6, True),  # a count: every failure is waited for
    ({"max_failure_rate": 0.01}, 1, 1000, False),  # this worker fails below the rate
    ({"max_failure_rate": 0.01}, 11, 1000, True),  # above it: the run may be about to stop
])
def test_when_a_worker_waits_for_its_failure_to_be_written(options: dict[str, Any], failed: int, concluded: int,
                                                           waits: bool) -> None:
    from pylo import Config
    from pylo._core.tolerance import waits_for_failure

    assert waits_for_failure(Config(**options), failed, concluded) is waits


@pytest.mark.parametrize(("tolerance", "words"), [
    (Tolerance(), None),
    (Tolerance(max_failures=100), "100 failed inputs"),
    (Tolerance(max_failure_rate=0.015), "1.5 % of the inputs"),
    (Tolerance(max_failures=5, max_failure_rate=0.01), "5 failed inputs or 1 % of the inputs"),
])
def test_the_tolerance_in_words(tolerance: Tolerance, words: str | None) -> None:
    assert tolerance.describe() == words


@pytest.mark.parametrize(("recorded", "cancelled", "requested", "abandoned", "expected"), [
    (None, False, False, False, None),
    (None, True, True, False, None),  # cancelled on request
    (None, True, False, False, UNREQUESTED),  # stopped as on a cancel nobody asked for
    (None, False, False, True, UNENDED),  # workers never ended, nothing runs it
    (Stop(StopKind.CLUSTER_LOST, "x"), True, False, True, Stop(StopKind.CLUSTER_LOST, "x")),
])
def test_why_an_execution_stopped_from_the_store(recorded: Stop | None, cancelled: bool, requested: bool,
                                                 abandoned: bool, expected: Stop | None) -> None:
    assert ending(recorded, workers_cancelled=cancelled, cancel_requested=requested, abandoned=abandoned) == expected


@pytest.mark.parametrize(("name", "value"), [
    ("max_failures", -1), ("max_failures", 1.5), ("max_failures", True), ("max_failure_rate", -0.1),
    ("max_failure_rate", 1.5), ("max_failure_rate", float("nan")), ("max_failure_rate", "1%"),
    ("cancel_grace", -1), ("cancel_grace", float("inf")),
])
def test_bad_tolerances_are_refused_naming_them(tmp_path: Path, name: str, value: Any) -> None:
    with pytest.raises(InvalidArgument, match=name):
        Pylo.local_multithread(str(tmp_path / "s"), **{name: value})


# -- real runs ------------------------------------------------------------------------------------


def _check_stopped(pylo: Pylo, run: Any, bound: int) -> int:
    """The run stopped past its tolerance, said so everywhere, left the rest pending; return
    how many inputs failed."""
    assert run.status is Status.CANCELLED, run
    summary = pylo.summary(run.id)
    assert summary.status is ExecutionStatus.OVER_TOLERANCE
    said = GAVE_UP.fullmatch(summary.reason or "")
    assert said and int(said.group(1)) > TOLERATED and run.reason == summary.reason
    assert TOLERATED < summary.failed <= bound, summary
    assert summary.pending > 0 and summary.finished + summary.failed + summary.pending == N
    assert f"over tolerance ({summary.reason})" in str(summary).splitlines()[0]
    assert summary.reason in summary._repr_html_() and f"cancelled ({summary.reason})" in repr(run)
    assert not any(w.gave_up for w in summary.workers)  # no worker spent its own budget
    finished, unfinished = pylo.get_state(run.id)
    assert len(unfinished) == summary.failed + summary.pending  # flushed: the store agrees
    assert pylo.verify(run.id).ok  # the stop record is a known object of the store
    return summary.failed


def test_a_run_past_its_tolerance_stops_on_threads(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=WORKERS, block_size=500,
                                  max_failures=TOLERATED)
    run = pylo.submit(range(N), functools.partial(tasks.fail_from, FIRST_FAILING))
    run.wait(60)
    # Each worker writes a failure before its next input, and the client stops the run as it
    # counts the one past the tolerance: at most one more per other worker was in flight.
    _check_stopped(pylo, run, TOLERATED + WORKERS)


def test_a_resume_applies_its_own_tolerance(tmp_path: Path) -> None:
    task = functools.partial(tasks.fail_from, FIRST_FAILING)
    strict = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=WORKERS, block_size=500,
                                    max_failures=TOLERATED)
    first = strict.submit(range(N), task)
    first.wait(60)
    lenient = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=WORKERS, block_size=500,
                                     max_worker_failures=N)
    resumed = lenient.start_from_past_execution(first.id, task, progress=False)
    summary = lenient.summary(resumed)
    assert summary.status is ExecutionStatus.FAILED_INPUTS and summary.reason is None
    assert (summary.finished, summary.failed, summary.pending) == (FIRST_FAILING, N - FIRST_FAILING, 0)
    again = strict.resume(resumed, task)  # its own tolerance again: 100 failures of its own
    again.wait(60)
    assert again.status is Status.CANCELLED and GAVE_UP.fullmatch(again.reason or "")
    assert TOLERATED < strict.summary(again.id).failed <= TOLERATED + WORKERS


def test_a_failure_rate_stops_a_run(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=WORKERS, block_size=500,
                                  max_failure_rate=0.02)
    run = pylo.submit(range(N), functools.partial(tasks.fail_from, FIRST_FAILING))
    run.wait(60)
    summary = pylo.summary(run.id)
    assert summary.status is ExecutionStatus.OVER_TOLERANCE and "tolerance 2 %" in (summary.reason or "")
    assert summary.pending > 0 and summary.failed <= 0.02 * N + WORKERS


def test_a_run_within_its_tolerance_is_not_stopped(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=WORKERS, block_size=500,
                                  max_failures=N - FIRST_FAILING, max_worker_failures=N)
    run = pylo.submit(range(N), functools.partial(tasks.fail_from, FIRST_FAILING))
    run.wait(60)
    assert run.status is Status.DONE and run.reason is None
    assert pylo.summary(run.id).status is ExecutionStatus.FAILED_INPUTS


@pytest.mark.slow
def test_a_run_past_its_tolerance_stops_on_dask(dask_client: Any, tmp_path: Path) -> None:
    pylo = Pylo.dask(dask_client, str(tmp_path / "s"), number_of_workers=WORKERS, block_size=500,
                     max_failures=TOLERATED)
    run = pylo.submit(range(N), functools.partial(tasks.fail_from, FIRST_FAILING))
    run.wait(60)
    # Each failure is written before the worker's next input; the stop reaches the Dask workers
    # through Dask (``client.run``) and the store's cancel marker (polled every 0.2 s locally):
    # what fails meanwhile is in flight (11 more were measured on 2 processes; bounded here by
    # the tolerance again, far below the 4,000 failing inputs left).
    _check_stopped(pylo, run, 2 * TOLERATED)


def test_an_execution_job_with_a_tolerance_fails_saying_why(tmp_path: Path) -> None:
    from pylo.engine import Engine, ExecutionJob
    from pylo.errors import ExecutionUnfinished

    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=WORKERS, block_size=500)
    task = functools.partial(tasks.fail_from, FIRST_FAILING)
    with Engine() as engine:
        job = ExecutionJob(pylo, range(N), task, max_failures=TOLERATED)
        engine.submit(job)
        engine.wait(60)
    assert job.status is Status.FAILED and isinstance(job.error, ExecutionUnfinished)
    assert GAVE_UP.search(str(job.error)) and job.error.execution_id == job.execution_id
    summary = pylo.summary(job.execution_id)
    assert summary.status is ExecutionStatus.OVER_TOLERANCE and summary.failed <= TOLERATED + WORKERS
    assert pylo.config.max_failures is None  # the job's tolerance is its own
    with pytest.raises(InvalidArgument, match="max_failures"):
        ExecutionJob(pylo, range(3), task, max_failures=-1)


@pytest.mark.parametrize(("stopped", "pending", "expected"), [
    ("tolerance", 3, ExecutionStatus.OVER_TOLERANCE),
    ("cluster lost", 3, ExecutionStatus.INTERRUPTED),
    ("store unreachable", 3, ExecutionStatus.INTERRUPTED),
    ("interrupted", 3, ExecutionStatus.INTERRUPTED),
    ("tolerance", 0, ExecutionStatus.FINISHED),  # stopped after the last input: nothing is left
    (None, 3, ExecutionStatus.CANCELLED),
])
def test_a_recorded_stop_outranks_the_workers_cancelled_outcomes(stopped: str | None, pending: int,
                                                                  expected: ExecutionStatus) -> None:
    from pylo import Summary, WorkerSummary
    from pylo._core.summary import execution_status

    worker = WorkerSummary(0, 10 - pending, 0, pending, 0, 5, False, "t", cancelled=True)
    summary = Summary("20261125T162126123456Z-1a2b3c4d", None, "t", "m:f", 10, 10 - pending, 0, pending, 0,
                      (worker,), True, stopped=stopped, reason=None if stopped is None else "why")
    assert execution_status(summary) is expected
