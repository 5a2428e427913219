"""Reruns of only the failures you name (``only=``, ``pending=``), per store × backend: the
inputs left out stay unfinished in the new execution with their last failure readable, and a
later resume still finds them. Also ``get_exceptions`` for one type and the pandas table."""

from __future__ import annotations

from typing import Any

import pytest

import tasks

N = 40
TIMEOUTS = [x for x in range(N) if x % 5 == 0 and x % 15]
RETRYABLE = [x for x in range(N) if x % 15 == 0]
VALUES = [x for x in range(N) if x % 3 == 0 and x % 5]
FAILED = sorted(TIMEOUTS + RETRYABLE + VALUES)


def test_only_a_type_reruns_those_failures_and_keeps_the_others(make_pylo: Any) -> None:
    pylo = make_pylo(block_size=8)
    eid = pylo.start_from_scratch(range(N), tasks.fail_kinds, progress=False)
    assert pylo.get_state(eid)[1] == FAILED
    rerun = pylo.start_from_past_execution(eid, tasks.ok_string, only=TimeoutError, progress=False)
    finished, unfinished = pylo.get_state(rerun)
    assert unfinished == sorted(RETRYABLE + VALUES)  # left out, still unfinished, in input order
    assert sorted(finished) == finished and set(TIMEOUTS) <= set(finished)
    kept = pylo.get_exceptions(rerun)  # their last failure is still readable, from the new execution
    assert [(r.input, r.type) for r in kept] == [
        (x, "tasks.RetryableAppError" if x in RETRYABLE else "ValueError") for x in sorted(RETRYABLE + VALUES)
    ]
    assert pylo.summary(rerun).unfinished == len(RETRYABLE + VALUES)
    assert pylo.verify(rerun).ok  # held blocks and their carried records are sound objects
    # Nothing vanished: resuming the new execution reruns what was left out.
    last = pylo.start_from_past_execution(rerun, tasks.ok_string, progress=False)
    assert pylo.get_state(last) == (list(range(N)), [])


def test_only_a_tuple_a_base_class_or_a_predicate(make_pylo: Any) -> None:
    pylo = make_pylo()
    eid = pylo.start_from_scratch(range(N), tasks.fail_kinds, progress=False)
    by_tuple = pylo.start_from_past_execution(eid, tasks.ok_string, only=(TimeoutError, "ValueError"), progress=False)
    assert pylo.get_state(by_tuple)[1] == RETRYABLE
    by_base = pylo.start_from_past_execution(eid, tasks.ok_string, only=tasks.AppError, progress=False)
    assert pylo.get_state(by_base)[1] == sorted(TIMEOUTS + VALUES)
    by_predicate = pylo.start_from_past_execution(
        eid, tasks.ok_string, only=lambda r: r.input > 20 and r.type == "ValueError", progress=False
    )
    assert pylo.get_state(by_predicate)[1] == [x for x in FAILED if not (x > 20 and x in VALUES)]


def test_pending_false_leaves_never_attempted_inputs_pending(make_pylo: Any) -> None:
    # One worker with a budget of 2: it gives up at the third failure, the rest never runs.
    pylo = make_pylo(number_of_workers=1, max_worker_failures=2)
    eid = pylo.start_from_scratch(range(N), tasks.fail_kinds, progress=False)
    first = pylo.summary(eid)
    assert first.gave_up and first.failed == 3 and first.pending == N - 3 - first.finished
    failed_first = pylo.get_state(eid)[1][:3]
    retry = make_pylo(number_of_workers=1)
    again = retry.start_from_past_execution(eid, tasks.ok_string, pending=False, progress=False)
    finished, unfinished = retry.get_state(again)
    assert set(failed_first) <= set(finished)
    assert len(unfinished) == first.pending and retry.summary(again).pending == first.pending
    everything = retry.start_from_past_execution(again, tasks.ok_string, progress=False)
    assert retry.get_state(everything) == (list(range(N)), [])


def test_only_matching_nothing_runs_nothing_and_loses_nothing(make_pylo: Any) -> None:
    pylo = make_pylo()
    eid = pylo.start_from_scratch(range(N), tasks.fail_kinds, progress=False)
    none = pylo.start_from_past_execution(eid, tasks.ok_string, only=KeyError, pending=False, progress=False)
    assert pylo.get_state(none) == pylo.get_state(eid)
    assert [r.input for r in pylo.get_exceptions(none)] == FAILED


def test_get_exceptions_of_one_type(make_pylo: Any) -> None:
    pylo = make_pylo()
    eid = pylo.start_from_scratch(range(N), tasks.fail_kinds, progress=False)
    assert [r.input for r in pylo.get_exceptions(eid, TimeoutError)] == TIMEOUTS
    assert [r.input for r in pylo.get_exceptions(eid, only=tasks.AppError)] == RETRYABLE
    assert [r.input for r in pylo.get_exceptions(eid)] == FAILED


def test_exceptions_frame(make_pylo: Any) -> None:
    pylo = make_pylo()
    eid = pylo.start_from_scratch(range(N), tasks.fail_kinds, progress=False)
    frame = pylo.exceptions_frame(eid)
    assert list(frame.columns) == ["position", "input", "worker", "attempt", "type", "message", "time",
                                   "traceback_first", "traceback_last"]
    assert frame["position"].tolist() == FAILED and frame["input"].tolist() == [repr(x) for x in FAILED]
    assert frame.groupby("type").size().to_dict() == {
        "TimeoutError": len(TIMEOUTS), "ValueError": len(VALUES), "tasks.RetryableAppError": len(RETRYABLE)}
    row = frame[frame["position"] == 5].iloc[0]
    assert row["traceback_last"] == "TimeoutError: slow 5" and "fail_kinds" in row["traceback_first"]
    assert pylo.exceptions_frame(eid, TimeoutError)["position"].tolist() == TIMEOUTS
