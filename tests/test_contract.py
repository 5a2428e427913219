"""The contract of an execution, run once per store (memory, local, S3 on moto) × backend
(threads, Dask with worker processes)."""

from __future__ import annotations

import functools
import os
from typing import Any

import pytest

import tasks
from pylo import ExceptionRecord, Pylo, Status
from pylo.backends import Backend


def test_the_backend_answers_its_whole_contract(make_pylo: Any) -> None:
    """What an execution asks of a backend (its Dask client, its dashboard, cancelling what is
    queued) is in the protocol, and each backend answers it: "none" where it has no such thing."""
    pylo = make_pylo()
    backend = pylo.backend
    assert isinstance(backend, Backend)
    on_dask = type(backend).__name__ == "DaskBackend"
    assert (backend.client is not None) is on_dask
    assert backend.dashboard_link is None or isinstance(backend.dashboard_link, str)
    if not on_dask:
        assert backend.dashboard_link is None
    assert backend.cancel_queued("no-such-execution") is None  # nothing of it queued: a no-op


def test_every_input_finishes(make_pylo: Any) -> None:
    pylo = make_pylo()
    eid = pylo.start_from_scratch(range(100), tasks.noop)
    finished, unfinished = pylo.get_state(eid)
    assert finished == list(range(100))
    assert unfinished == []
    summary = pylo.summary(eid)
    assert (summary.finished, summary.failed, summary.pending) == (100, 0, 0)
    assert summary.complete


def test_generator_inputs_stream_into_blocks(make_pylo: Any) -> None:
    pylo = make_pylo(block_size=7)
    eid = pylo.start_from_scratch((i for i in range(50)), tasks.noop)
    assert pylo.get_state(eid) == (list(range(50)), [])
    manifest = pylo.store.read_manifest(eid)
    assert len(manifest.blocks) == 8 and all(b.count <= 7 for b in manifest.blocks)


def test_failures_are_recorded_with_their_exceptions(make_pylo: Any) -> None:
    pylo = make_pylo()
    eid = pylo.start_from_scratch(range(50), tasks.fail_multiples_of_7)
    finished, unfinished = pylo.get_state(eid)
    bad = [x for x in range(50) if x % 7 == 0]
    assert unfinished == bad
    assert finished == [x for x in range(50) if x % 7]
    records = pylo.get_exceptions(eid)
    assert [r.input for r in records] == bad
    assert all(isinstance(r, ExceptionRecord) for r in records)
    assert [str(r) for r in records] == [f"bad input {x}" for x in bad]
    first = records[0]
    assert first.type == "ValueError" and first.attempt == 1 and first.position == 0
    assert "fail_multiples_of_7" in first.traceback
    assert isinstance(first.exception, ValueError)
    assert pylo.summary(eid).failed == len(bad)


def test_worker_gives_up_past_its_budget(make_pylo: Any) -> None:
    pylo = make_pylo(number_of_workers=1, max_worker_failures=2)
    eid = pylo.start_from_scratch(range(10), tasks.always_fail)
    summary = pylo.summary(eid)
    # Two failures are tolerated; the third makes the worker give up: 7 inputs never attempted.
    assert (summary.failed, summary.pending, summary.finished) == (3, 7, 0)
    assert summary.gave_up and summary.workers[0].gave_up
    assert [r.input for r in pylo.get_exceptions(eid)] == [0, 1, 2]
    assert pylo.get_state(eid) == ([], list(range(10)))


def test_retries_rerun_a_failed_input(make_pylo: Any, tmp_path: Any) -> None:
    pylo = make_pylo(retries=2)
    task = functools.partial(tasks.fail_first_attempt, str(tmp_path))
    eid = pylo.start_from_scratch(range(20), task)
    assert pylo.get_state(eid) == (list(range(20)), [])
    records = pylo.get_exceptions(eid)
    assert [(r.input, r.attempt, r.type) for r in records] == [(x, 1, "ConnectionError") for x in range(20)]
    assert pylo.summary(eid).workers[0].failed_attempts + pylo.summary(eid).workers[1].failed_attempts == 20


def test_a_permanent_failure_stops_after_its_retries(make_pylo: Any) -> None:
    pylo = make_pylo(number_of_workers=1, retries=3)
    eid = pylo.start_from_scratch(["x"], tasks.always_fail)
    assert [r.attempt for r in pylo.get_exceptions(eid)] == [1, 2, 3, 4]
    assert pylo.summary(eid).workers[0].budget_left == 1000 - 4


def test_inputs_are_identified_by_position(make_pylo: Any) -> None:
    inputs = [{"name": "a"}, {"name": "b", "bad": True}, {"name": "a"}, {"name": "b", "bad": True}, [1, 2]]
    inputs[4] = {"name": "list-like"}
    pylo = make_pylo()
    eid = pylo.start_from_scratch(inputs, tasks.fail_flagged)
    finished, unfinished = pylo.get_state(eid)
    assert finished == [inputs[0], inputs[2], inputs[4]]
    assert unfinished == [inputs[1], inputs[3]]
    assert [r.position for r in pylo.get_exceptions(eid)] == [1, 3]


def test_resume_reruns_only_what_is_unfinished(make_pylo: Any, tmp_path: Any) -> None:
    pylo = make_pylo()
    first = pylo.start_from_scratch(range(30), tasks.fail_multiples_of_7)
    calls = tmp_path / "calls"
    calls.mkdir()
    second = pylo.start_from_past_execution(first, functools.partial(tasks.log_call, str(calls)))
    assert second != first
    assert sorted(tasks.count_calls(str(calls))) == sorted(str(x) for x in range(0, 30, 7))
    assert pylo.get_state(second) == (list(range(30)), [])
    assert pylo.get_exceptions(second) == []
    summary = pylo.summary(second)
    assert summary.parent == first and summary.inherited == 30 - 5 and summary.finished == 30


def test_resume_of_a_resume_follows_the_chain(make_pylo: Any) -> None:
    pylo = make_pylo()
    first = pylo.start_from_scratch(range(40), tasks.fail_multiples_of_7)
    second = pylo.start_from_past_execution(first, tasks.always_fail)
    assert pylo.get_state(second) == ([x for x in range(40) if x % 7], list(range(0, 40, 7)))
    third = pylo.start_from_past_execution(second, tasks.noop)
    assert pylo.get_state(third) == (list(range(40)), [])
    assert pylo.summary(third).inherited == 40 - 6


def test_nothing_to_do(make_pylo: Any) -> None:
    pylo = make_pylo()
    empty = pylo.start_from_scratch([], tasks.noop)
    assert pylo.get_state(empty) == ([], [])
    done = pylo.start_from_scratch(range(5), tasks.noop)
    run = pylo.resume(done, tasks.always_fail)
    assert run.wait() == run.id and run.status is Status.DONE
    assert pylo.get_state(run.id) == (list(range(5)), [])
    assert pylo.store.read_manifest(run.id).n_inputs == 0


def test_exceptions_can_be_switched_off(make_pylo: Any) -> None:
    pylo = make_pylo(store_exceptions=False)
    eid = pylo.start_from_scratch(range(10), tasks.fail_multiples_of_7)
    assert pylo.get_exceptions(eid) == []
    assert pylo.get_state(eid)[1] == [0, 7]


def test_awkward_exceptions_are_kept_as_text(make_pylo: Any) -> None:
    # Whether UnloadableError comes back depends on where its class was rebuilt (in-process Dask
    # workers rebuild it by value): test_records pins that case down without a backend.
    pylo = make_pylo(number_of_workers=1)
    for task, cls in [
        (tasks.raise_with_args, "ErrorWithArgs"),
        (tasks.raise_unloadable, "UnloadableError"),
        (tasks.raise_unpicklable, "UnpicklableError"),
    ]:
        eid = pylo.start_from_scratch([1, 2], task)
        records = pylo.get_exceptions(eid)
        assert [r.input for r in records] == [1, 2]
        assert records[0].type == f"tasks.{cls}"
        assert records[0].message.endswith(("with args", "unloadable", "unpicklable 1"))
        if cls == "ErrorWithArgs":
            assert isinstance(records[0].exception, Exception) and records[0].exception.code == 1
        if cls == "UnpicklableError":
            assert records[0].exception is None
        assert pylo.get_state(eid) == ([], [1, 2])


def test_submit_returns_a_handle(make_pylo: Any) -> None:
    pylo = make_pylo()
    run = pylo.submit(range(200), tasks.fail_multiples_of_7)
    assert run.wait(timeout=60) == run.id
    assert run.status is Status.DONE and run.done()
    progress = run.progress()
    assert (progress.total, progress.finished, progress.failed) == (200, 200 - 29, 29)


def test_the_store_holds_only_json_and_input_blocks(make_pylo: Any) -> None:
    pylo = make_pylo()
    eid = pylo.start_from_scratch(range(20), tasks.fail_multiples_of_7)
    files = pylo.store.files
    for path in files.find(f"{files.root}/{eid}"):
        rel = path[len(files.root) + len(eid) + 2 :]
        if rel.startswith("inputs/") or rel == "task":  # the pickles: inputs, and the task for Dask workers
            continue
        import json

        # a manifest whose blocks are taken at run time has the format that says so; on local
        # disk, the one whose blocks also share their inputs objects
        taken = 4 if files.local else 3
        expected = taken if rel == "execution.json" else 1
        assert json.loads(files.get(path))["format"] == expected, rel
    assert os.path.basename(pylo.store.layout.manifest(eid)) == "execution.json"


def test_fewer_inputs_than_workers_still_completes(make_pylo: Any) -> None:
    pylo = make_pylo(number_of_workers=4)
    for inputs in ([1, 2, 3], []):
        eid = pylo.start_from_scratch(inputs, tasks.noop)
        summary = pylo.summary(eid)
        assert summary.complete and summary.finished == len(inputs)
        assert len(summary.workers) == len(inputs)


def test_a_parent_that_went_on_beside_its_resume_is_counted_once(tmp_path: Any) -> None:
    # A forced resume while the parent's old workers still ran: both finished some of the same
    # inputs. State and summary count each root position once.
    from pylo.store import Segment

    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1, block_size=10)
    parent = pylo.start_from_scratch(range(20), tasks.fail_multiples_of_7, progress=False)  # 0, 7, 14 fail
    child = pylo.start_from_past_execution(parent, tasks.noop, progress=False)
    manifest = pylo.store.read_manifest(parent)
    for pos in (0, 7):  # the old workers' last flushes
        block = next(b.block for b in manifest.blocks if pos in b.positions)
        pylo.store.write_segment(parent, Segment(block=block, finished=((pos, pos + 1),)), 99, "f" * 12)
    assert pylo.get_state(child) == (list(range(20)), [])
    summary = pylo.summary(child)
    assert (summary.total, summary.finished, summary.pending, summary.failed) == (20, 20, 0, 0)
    assert manifest.n_inputs == 20
