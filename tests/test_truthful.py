"""Statuses, ids and numbers that tell the truth, each checked as a user meets it: a resume with
``only=``, a shortened id in every front end, ``attach`` on an ended execution, ``pylo status``
on a running one, an ``ExecutionJob`` whose inputs failed, and counts written one way."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from pylo import ExecutionStatus, Pylo
from pylo._core.status import Status
from pylo._ui import cli_text
from pylo._ui.html import summary_html
from tests import tasks


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pylo", *args], capture_output=True, text=True, timeout=90,
                          env={**os.environ})


def _two_kinds(x: int) -> None:
    if x % 3 == 0:
        raise ValueError(x)
    if x % 3 == 1:
        raise KeyError(x)


@pytest.fixture
def held(tmp_path: Path) -> tuple[Pylo, str]:
    """An execution resumed with only=KeyError: its ValueError inputs are held back."""
    pylo = Pylo.local_multithread(tmp_path / "store", 2)
    eid = pylo.start_from_scratch(range(30), _two_kinds, progress=False)
    return pylo, pylo.start_from_past_execution(eid, _two_kinds, only=KeyError, progress=False)


def test_a_resume_with_only_ends_held_back_not_interrupted(held: tuple[Pylo, str]) -> None:
    pylo, eid = held
    summary = pylo.summary(eid)
    assert summary.status is ExecutionStatus.HELD_BACK
    assert summary.held_back == 10
    assert "held back" in str(summary)
    assert "10 pending (10 held back by only=)" in cli_text.summary(summary)


# -- shortened ids ---------------------------------------------------------------------------------

def test_attach_takes_a_shortened_id_in_the_api_and_the_cli(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(tmp_path, 1)
    eid = pylo.start_from_scratch(range(3), tasks.noop, progress=False)
    for short in (eid[:18], eid[-8:]):
        run = pylo.attach(short)
        assert run.id == eid
        assert run.result(timeout=60) == eid
    out = _cli("attach", str(tmp_path), eid[-8:])
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"execution {eid}: finished" in out.stdout


# -- attach on an ended execution ------------------------------------------------------------------

def test_attach_on_an_ended_execution_has_ended(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(tmp_path, 2)
    eid = pylo.start_from_scratch(range(7), tasks.noop, progress=False)
    run = pylo.attach(eid, poll=3600)  # were the first look on the thread, nothing would settle it soon
    assert run.done() and run.status is Status.DONE
    assert "done" in repr(run) and "running" not in repr(run)
    assert run.progress().finished == 7 and run.progress().ended


# -- pylo status on a running execution ------------------------------------------------------------

def test_status_of_a_running_execution_suggests_attach(tmp_path: Path) -> None:
    gate = threading.Event()
    pylo = Pylo.local_multithread(tmp_path, 2)
    run = pylo.submit(range(6), lambda x: gate.wait(60))
    try:
        out = _cli("status", str(tmp_path), run.id)
    finally:
        gate.set()
        run.wait(60)
    assert f"execution {run.id}: running" in out.stdout, out.stdout + out.stderr
    assert f"pylo attach {tmp_path} {run.id}" in out.stdout
    assert "pylo resume" not in out.stdout
    assert "ended not yet (running)" in out.stdout
    worker_rows = [row for row in (line.split() for line in out.stdout.splitlines())
                   if len(row) == 10 and row[0].isdigit() and row[1].isdigit()]
    assert len(worker_rows) == 2 and all(row[-2:] == ["running", "running"] for row in worker_rows), out.stdout
    ended = _cli("status", str(tmp_path), run.id).stdout
    assert "ended 20" in ended and " - " not in ended


# -- an ExecutionJob whose inputs failed -----------------------------------------------------------

def test_a_failed_execution_job_logs_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from pylo.engine import Engine, ExecutionJob

    pylo = Pylo.local_multithread(tmp_path, 2)
    with caplog.at_level(logging.ERROR, logger="pylo.engine"), Engine() as engine:
        job = ExecutionJob(pylo, range(10), tasks.fail_multiples_of_7)
        engine.submit(job)
        engine.wait_job(job)
    (record,) = [r for r in caplog.records if r.name == "pylo.engine" and "failed" in r.getMessage()]
    assert record.exc_info is None
    message = record.getMessage()
    assert "\n" not in message
    assert f"ended with 2 failed and 0 pending inputs of 10" in message
    assert f"pylo.get_exceptions({job.execution_id!r})" in message
    assert f"pylo exceptions {tmp_path} {job.execution_id}" in message
    assert "Traceback" not in caplog.text


# -- numbers ---------------------------------------------------------------------------------------

def test_counts_are_written_one_way(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pylo = Pylo.local_multithread(tmp_path, 2)
    with caplog.at_level(logging.INFO, logger="pylo"):
        eid = pylo.start_from_scratch(range(1234), tasks.noop, progress=False)
    summary = pylo.summary(eid)
    assert "1,234 finished" in str(summary)
    assert "1,234 finished" in cli_text.summary(summary)
    assert "1,234 finished" in summary_html(summary)
    assert "1,234 inputs" in caplog.text and "1,234 finished" in caplog.text
    for text in (str(summary), cli_text.summary(summary), summary_html(summary), caplog.text):
        assert "1234" not in text
