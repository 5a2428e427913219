"""What an execution is called, decided in one place and shown the same everywhere: a cancelled
run or one whose workers gave up is never "complete" or "finished"."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import tasks
from pylo import Pylo, Summary, WorkerSummary
from pylo._core.summary import ExecutionStatus, execution_status
from pylo._ui import cli_text
from pylo._ui.html import summary_html

EID = "20261125T162126123456Z-1a2b3c4d"


def _summary(*, complete: bool = True, running: bool = False, failed: int = 0, pending: int = 0,
             cancelled: bool = False, gave_up: bool = False) -> Summary:
    worker = WorkerSummary(0, 10 - failed - pending, failed, pending, failed, 5, gave_up, "t", cancelled=cancelled)
    return Summary(EID, None, "t", "m:f", 10, 10 - failed - pending, failed, pending, 0, (worker,), complete,
                   running=running)


CASES = [
    (dict(), ExecutionStatus.FINISHED),
    (dict(complete=False, running=True, pending=4), ExecutionStatus.RUNNING),
    (dict(complete=False, running=False, pending=4), ExecutionStatus.INTERRUPTED),
    (dict(failed=2), ExecutionStatus.FAILED_INPUTS),
    (dict(cancelled=True, pending=3), ExecutionStatus.CANCELLED),
    (dict(cancelled=True, failed=1, pending=3, gave_up=True), ExecutionStatus.CANCELLED),
    (dict(cancelled=True), ExecutionStatus.FINISHED),  # cancelled too late: nothing was left
    (dict(gave_up=True, failed=1, pending=5), ExecutionStatus.GAVE_UP),
    (dict(pending=2), ExecutionStatus.INTERRUPTED),  # every worker ended, yet a block never ran
]


@pytest.mark.parametrize(("fields", "expected"), CASES, ids=[c[1].name + str(i) for i, c in enumerate(CASES)])
def test_the_one_decision(fields: dict[str, Any], expected: ExecutionStatus) -> None:
    s = _summary(**fields)
    assert execution_status(s) is expected and s.status is expected
    assert s.to_json()["status"] == expected.value
    assert str(s).splitlines()[0] == f"execution {EID}: {expected.value}"
    assert cli_text.summary(s).splitlines()[0] == f"execution {EID}: {expected.value}"
    assert f">{expected.value}</span>" in summary_html(s)
    if expected is not ExecutionStatus.FINISHED:
        assert "complete" not in summary_html(s) and "finished</span>" not in summary_html(s)
    # A running execution is followed, not resumed (a resume would be refused: it is claimed).
    assert ("still running" in summary_html(s)) == (expected is ExecutionStatus.RUNNING)
    assert ("pylo-resume" in summary_html(s)) == (expected not in (ExecutionStatus.RUNNING, ExecutionStatus.FINISHED))


def test_a_cancelled_run_and_a_run_that_gave_up_say_so(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(tmp_path / "store", number_of_workers=1, block_size=2)
    gate, started = threading.Event(), threading.Event()

    def gated(x: int) -> None:
        started.set()
        assert gate.wait(60)

    run = pylo.submit(range(6), gated)
    assert started.wait(60)
    run.cancel()
    gate.set()
    run.wait()
    assert pylo.summary(run.id).status is ExecutionStatus.CANCELLED
    assert cli_text.ls_row(pylo.store, run.id)["status"] == "cancelled"
    assert ">cancelled</span>" in run._repr_html_()

    gave_up = Pylo.local_multithread(tmp_path / "store", number_of_workers=1, max_worker_failures=0)
    eid = gave_up.start_from_scratch(range(1, 9), tasks.fail_multiples_of_7, progress=False)
    assert gave_up.summary(eid).status is ExecutionStatus.GAVE_UP
    assert cli_text.ls_row(gave_up.store, eid)["status"] == "gave up"
