"""The web view's pure parts: the status of an execution, the order of the list, the commands."""

from __future__ import annotations

from typing import Any

import pytest

from pylo._core.summary import Summary, WorkerSummary
from pylo._ui.web._read import copy_lines, newest_first, status_token


def summary(*, finished: int, failed: int, pending: int, complete: bool, gave_up: bool = False,
            cancelled: bool = False, running: bool = False) -> Summary:
    worker = WorkerSummary(worker=0, finished=finished, failed=failed, pending=pending, failed_attempts=failed,
                           budget_left=0 if gave_up else 10, gave_up=gave_up, ended=None, cancelled=cancelled)
    return Summary(execution_id="20261201T000000000000Z-00000000", parent=None, created="", task="m:f",
                   total=finished + failed + pending, finished=finished, failed=failed, pending=pending,
                   inherited=0, workers=(worker,), complete=complete, running=running)


@pytest.mark.parametrize("counts, expected", [
    (dict(finished=5, failed=0, pending=0, complete=True), "finished"),
    (dict(finished=0, failed=0, pending=0, complete=True), "finished"),
    (dict(finished=3, failed=0, pending=2, complete=False, running=True), "running"),
    (dict(finished=3, failed=0, pending=2, complete=False), "interrupted"),
    (dict(finished=3, failed=0, pending=2, complete=True, cancelled=True), "cancelled"),
    (dict(finished=3, failed=1, pending=1, complete=True, gave_up=True), "gave_up"),
    (dict(finished=3, failed=2, pending=0, complete=True), "failed_inputs"),
])
def test_the_view_spells_the_summarys_status(counts: dict[str, Any], expected: str) -> None:
    # The token is a CSS class and a filter word: the summary's decision, in one word.
    assert status_token(summary(**counts)) == expected


def test_a_status_never_says_finished_while_inputs_are_unfinished() -> None:
    for complete in (True, False):
        for running in (True, False):
            for cancelled in (True, False):
                s = summary(finished=1, failed=0, pending=1, complete=complete, running=running, cancelled=cancelled)
                assert status_token(s) != "finished"


A, B, C, D = (f"20261201T0000000000{i}0Z-0000000{i}" for i in range(1, 5))


@pytest.mark.parametrize("parents, expected", [
    ({A: None, B: None, C: None}, [C, B, A]),
    ({A: None, B: A, C: B}, [C, B, A]),
    # a resume made on a machine whose clock is behind: its id sorts before its parent's
    ({A: None, B: None, C: B, D: None}, [D, C, B, A]),
    ({A: C, B: None, C: None}, [B, A, C]),
    ({A: B, B: None, C: B}, [C, A, B]),  # two resumes of B: both above it
    ({A: "20000101T000000000000Z-99999999", B: None}, [B, A]),  # a parent not in the store
    ({A: B, B: A, C: None}, [C, B, A]),  # a cycle (hand-edited store): shown, last
])
def test_newest_first_follows_parent_links(parents: dict[str, str | None], expected: list[str]) -> None:
    assert newest_first(parents) == expected


def test_copy_lines() -> None:
    done = {"id": A, "store": "s3://bucket/my store", "task": "pkg.mod:work", "unfinished": 3, "status": "gave_up"}
    lines = copy_lines(done, [])
    assert lines["resume"] == f"pylo resume 's3://bucket/my store' {A} --task pkg.mod:work"
    assert lines["status"] == f"pylo status 's3://bucket/my store' {A}"
    local = copy_lines({**done, "task": "__main__:<lambda>"}, [])
    assert local["resume"].endswith("--task MODULE:FUNCTION")
    running = copy_lines({**done, "status": "running"}, [])
    assert "resume" not in running  # refused while it runs
    assert "resume" not in copy_lines({**done, "unfinished": 0, "status": "finished"}, [])
