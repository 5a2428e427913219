"""Kept results (``store_results=True``), once per store × backend: streamed in input order
across a resume chain, an unserializable value failing its attempt, and a clear error when
results were not kept."""

from __future__ import annotations

from typing import Any

import pytest

import tasks
from pylo import CorruptSnapshot, ResultNotSerializable, ResultsNotKept


def test_results_in_input_order_across_a_resume_chain(make_pylo: Any) -> None:
    pylo = make_pylo(store_results=True, block_size=6)
    eid = pylo.start_from_scratch(range(40), tasks.ten_times_failing_7, progress=False)
    assert list(pylo.get_results(eid)) == [(x, 10 * x) for x in range(40) if x % 7]
    again = pylo.start_from_past_execution(eid, tasks.ok_string, progress=False)
    expected = [(x, f"fixed {x}" if x % 7 == 0 else 10 * x) for x in range(40)]
    assert list(pylo.get_results(again)) == expected
    assert list(pylo.get_results(eid)) == [(x, 10 * x) for x in range(40) if x % 7]  # the parent's own


def test_a_value_that_cannot_be_kept_fails_its_attempt(make_pylo: Any) -> None:
    pylo = make_pylo(store_results=True)
    eid = pylo.start_from_scratch(range(6), tasks.lock_on_3, progress=False)
    finished, unfinished = pylo.get_state(eid)
    assert unfinished == [3] and finished == [0, 1, 2, 4, 5]
    (record,) = pylo.get_exceptions(eid)
    assert record.position == 3 and record.input == 3
    assert record.type == "pylo.errors.ResultNotSerializable"
    assert "the result of input 3 (lock) cannot be serialized" in record.message
    assert isinstance(record.exception, ResultNotSerializable)
    assert [x for x, _ in pylo.get_results(eid)] == [0, 1, 2, 4, 5]


def test_without_store_results_nothing_is_kept_and_asking_says_so(make_pylo: Any) -> None:
    pylo = make_pylo()
    eid = pylo.start_from_scratch(range(5), tasks.ten_times_failing_7, progress=False)
    assert not pylo.store.files.exists(pylo.store.layout.results_dir(eid))
    with pytest.raises(ResultsNotKept, match=f"{eid} ran without store_results=True"):
        pylo.get_results(eid)


def test_a_chain_whose_root_kept_nothing_is_refused_too(make_pylo: Any) -> None:
    plain = make_pylo()
    eid = plain.start_from_scratch(range(10), tasks.ten_times_failing_7, progress=False)
    keeping = make_pylo(store_results=True)
    child = keeping.start_from_past_execution(eid, tasks.ok_string, progress=False)
    with pytest.raises(ResultsNotKept, match=eid):
        keeping.get_results(child)


def test_verify_checks_results_objects_without_unpickling(make_pylo: Any) -> None:
    pylo = make_pylo(store_results=True)
    eid = pylo.start_from_scratch(range(20), tasks.ten_times_failing_7, progress=False)
    assert pylo.verify(eid).ok
    files = pylo.store.files
    path = files.find(pylo.store.layout.results_dir(eid))[0]
    files.put(path, files.get(path)[:-3])  # truncated
    report = pylo.verify(eid)
    assert [p.path for p in report.problems] == [path] and "sizes do not add up" in report.problems[0].message
    with pytest.raises(CorruptSnapshot):
        list(pylo.get_results(eid))
