"""The notebook views: the HTML repr of ``Summary`` and ``Run``, and the progress bar of the
blocking calls. Real executions on threads over a local store; the HTML is parsed, not grepped."""

from __future__ import annotations

import html.parser
import io
import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import tasks
from pylo import Progress, Pylo, Run, Summary, WorkerSummary
from pylo._core.block import Delta
from pylo._ui.progress import ProgressBar
from pylo._core.summary import ExceptionKind

EID = "20261125T162126123456Z-1a2b3c4d"


class Parsed(html.parser.HTMLParser):
    """The text, the tags, the classes and the bar widths of an HTML fragment."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.text: list[str] = []
        self.classes: list[str] = []
        self.parts: dict[str, float] = {}
        self.tags: list[str] = []
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = dict(attrs)
        self.classes += (a.get("class") or "").split()
        if a.get("data-part"):
            width = (a.get("style") or "").split("width:")[1].split("%")[0]
            self.parts[str(a["data-part"])] = float(width)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def summary(**changes: Any) -> Summary:
    base: dict[str, Any] = dict(
        execution_id=EID, parent=None, created="2026-11-25T16:21:26Z",
        task="etl.movies:download", total=1000, finished=700, failed=200, pending=100, inherited=0,
        workers=(
            WorkerSummary(0, 400, 50, 50, 60, 940, False, "2026-11-25T16:22:00Z"),
            WorkerSummary(1, 300, 150, 50, 1001, 0, True, "2026-11-25T16:22:01Z"),
        ),
        complete=True,
        top_exceptions=(ExceptionKind("ValueError", 150, 150, "bad <input> & worse"), ExceptionKind("KeyError", 50, 40, "'x'")),
        store="s3://bucket/prefix",
    )
    base.update(changes)
    return Summary(**base)


def test_summary_html_has_counts_bar_workers_exceptions_and_resume_line() -> None:
    page = Parsed(summary()._repr_html_())
    text = page.all_text
    assert EID in text
    assert "700 finished" in text and "200 failed" in text and "100 pending" in text
    assert page.parts == pytest.approx({"finished": 70.0, "failed": 20.0})
    assert {"pylo-summary", "pylo-bar", "pylo-workers", "pylo-exceptions", "pylo-resume"} <= set(page.classes)
    assert "940" in text and "gave up" in text  # per-worker budget left and the flag
    assert "ValueError" in text and "KeyError" in text
    assert "bad <input> & worse" in text  # escaped in the source, intact as text
    assert f"pylo resume s3://bucket/prefix {EID} --task etl.movies:download" in text
    assert f"start_from_past_execution('{EID}', task)" in text


def test_summary_html_escapes_what_comes_from_the_store() -> None:
    bad = ExceptionKind("<b>X</b>", 1, 1, "<img src=x>")
    source = summary(task="<script>alert(1)</script>", top_exceptions=(bad,))._repr_html_()
    assert "<script>" not in source and "<img" not in source and "<b>X</b>" not in source
    assert not {"script", "img"} & set(Parsed(source).tags)


def test_finished_summary_says_nothing_is_left() -> None:
    done = summary(finished=1000, failed=0, pending=0, top_exceptions=())
    page = Parsed(done._repr_html_())
    assert "pylo-resume" not in page.classes and "pylo-exceptions" not in page.classes
    assert "every input finished" in page.all_text
    assert done.resume_line() is None


def test_run_html_live_then_from_the_store(tmp_path: Any) -> None:
    pylo = Pylo.local_multithread(tmp_path / "store", number_of_workers=2)
    gate = threading.Event()

    def gated(x: int) -> None:
        assert gate.wait(60)
        tasks.fail_multiples_of_7(x)

    run = pylo.submit(range(20), gated)
    live = Parsed(run._repr_html_())
    assert "running" in live.all_text and "0 finished" in live.all_text and "20 pending" in live.all_text
    assert "pylo-workers" in live.classes and "1,000" in live.all_text  # budget left per worker
    assert "pylo-resume" not in live.classes and f"pylo status {tmp_path / 'store'} {run.id}" in live.all_text
    gate.set()
    run.wait()
    settled = Parsed(run._repr_html_())
    assert "failed inputs" in settled.all_text and "17 finished" in settled.all_text and "3 failed" in settled.all_text
    assert settled.all_text.startswith(f"pylo execution {run.id} failed inputs")  # the badge, not "done"
    assert {"pylo-summary", "pylo-workers", "pylo-exceptions", "pylo-resume"} <= set(settled.classes)


def _mixed(x: Any) -> None:
    if isinstance(x, dict):
        tasks.fail_flagged(x)
    else:
        tasks.fail_multiples_of_7(x)


def test_run_html_without_a_store_shows_live_counts() -> None:
    run = Run(EID, 10)
    run.start()
    run.on_delta(_delta(3, 1))
    page = Parsed(run._repr_html_())
    assert "pylo-run" in page.classes and "pylo-workers" not in page.classes
    assert "running" in page.all_text and "3 finished" in page.all_text and "6 pending" in page.all_text
    assert page.parts == pytest.approx({"finished": 30.0, "failed": 10.0})


def test_summary_from_the_store_counts_exception_types(tmp_path: Any) -> None:
    pylo = Pylo.local_multithread(tmp_path / "store", number_of_workers=2)
    eid = pylo.start_from_scratch([*range(14), {"name": "a", "bad": True}], _mixed, progress=False)
    kinds = pylo.summary(eid).top_exceptions
    assert [(k.type, k.attempts, k.inputs) for k in kinds] == [("ValueError", 2, 2), ("KeyError", 1, 1)]
    assert kinds[0].message == "bad input 0"  # the first by position
    assert "2 x ValueError" in str(pylo.summary(eid))


# -- the progress bar ------------------------------------------------------------------------


def _delta(finished: int, failed: int) -> Delta:
    return Delta(execution=EID, worker=0, block=0, finished=finished, failed=failed, attempts=finished + failed)


def test_progress_bar_follows_the_flushes_of_a_run() -> None:
    run = Run(EID, 10)
    out = io.StringIO()
    bar = ProgressBar(run, file=out, force=True)
    run.start()
    for finished, failed in ((3, 1), (2, 0), (3, 1)):
        run.on_delta(_delta(finished, failed))
    bar.close()
    run.on_delta(_delta(1, 0))  # after close: ignored, no error
    last = out.getvalue().rstrip().split("\r")[-1]
    assert "8/10" not in last and "10/10" in last  # concluded = finished + failed
    assert "finished=8" in last and "failed=2" in last and "inputs/s" in last


def test_progress_bar_counts_are_written_out_in_full() -> None:
    run = Run(EID, 50_000)
    out = io.StringIO()
    bar = ProgressBar(run, file=out, force=True)
    run.start()
    run.on_delta(_delta(20_000, 100_00))
    bar.close()
    last = out.getvalue().rstrip().split("\r")[-1]
    # in full (tqdm would write 2e+4), and as every other view writes a count
    assert "finished=20,000" in last and "failed=10,000" in last, last
    assert "30,000/50,000" in last, last


def test_progress_bar_says_when_workers_gave_up() -> None:
    run = Run(EID, 10)
    out = io.StringIO()
    bar = ProgressBar(run, file=out, force=True)
    run.start()
    run.on_delta(_delta(3, 2))
    bar.show_gave_up(2)
    bar.close()
    assert "gave_up=2 workers" in out.getvalue().rstrip().split("\r")[-1]


def test_progress_bar_is_hidden_when_stderr_is_not_a_terminal() -> None:
    out = io.StringIO()  # not a tty
    bar = ProgressBar(Run(EID, 10), file=out, dashboard="http://dash")
    bar.close()
    assert bar.disabled and out.getvalue() == ""


def test_progress_bar_shows_the_dashboard_link() -> None:
    out = io.StringIO()
    ProgressBar(Run(EID, 10), file=out, force=True, dashboard="http://dash:8787/status").close()
    assert "Dask dashboard at http://dash:8787/status" in out.getvalue()


def test_blocking_calls_log_start_and_end_and_print_nothing(
    tmp_path: Any, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    pylo = Pylo.local_multithread(tmp_path / "store", number_of_workers=2)
    with caplog.at_level(logging.INFO, logger="pylo"):
        eid = pylo.start_from_scratch(range(14), tasks.fail_multiples_of_7)
        new = pylo.start_from_past_execution(eid, tasks.noop, progress=False)
    messages = [r.getMessage() for r in caplog.records if r.name == "pylo"]
    assert f"execution {eid} started: 14 inputs, 2 workers" in messages
    assert f"execution {eid} done: 12 finished, 2 failed, 0 pending of 14" in messages
    assert any(m.startswith(f"execution {new} resumed from {eid}") for m in messages)
    assert f"execution {new} done: 2 finished, 0 failed, 0 pending of 2" in messages
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # the bar stays off when stderr is not a terminal; no prints


def test_progress_is_a_value() -> None:
    assert Progress(10, 3, 2, 6).pending == 5


def test_a_worker_giving_up_is_one_warning_line_without_logging_configured(tmp_path: Path) -> None:
    """Nothing configured (a notebook, a script): the user still sees that a worker gave up, in
    one line on stderr, and nothing else (the INFO lines stay silent)."""
    code = (
        "from pylo import Pylo\n"
        f"p = Pylo.local_multithread({str(tmp_path / 'store')!r}, number_of_workers=1, max_worker_failures=0)\n"
        "p.start_from_scratch([1, 2], lambda x: 1 / 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "worker 0" in line and "gave up" in line


@pytest.mark.parametrize("cluster", ["dask_client", "dask_inproc_client"])
def test_a_worker_giving_up_on_dask_is_told_once_in_the_client(
    tmp_path: Path, cluster: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    """Worker processes: the client says it (their own line stays in their logs). Workers in
    this process: their own line is the one, not repeated."""
    client = request.getfixturevalue(cluster)
    pylo = Pylo.dask(client, tmp_path / "store", number_of_workers=2, max_worker_failures=0)
    with caplog.at_level(logging.WARNING, logger="pylo"):
        eid = pylo.start_from_scratch(range(4), tasks.fail_multiples_of_7, progress=False)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "gave up" in r.getMessage()]
    gave_up = [w.worker for w in pylo.summary(eid).workers if w.gave_up]  # whoever took input 0
    assert len(gave_up) == 1 and len(warnings) == 1, [r.getMessage() for r in warnings]
    assert f"worker {gave_up[0]}" in warnings[0].getMessage() and eid in warnings[0].getMessage()
    assert pylo.summary(eid).status.value == "gave up"


@pytest.mark.parametrize(
    ("task", "shown"),
    [("etl.movies:download", "etl.movies:download"), ("etl:Job.run", "etl:Job.run"),
     ("__main__:download", "MODULE:FUNCTION"), ("etl:<lambda>", "MODULE:FUNCTION"),
     ("etl:make.<locals>.f", "MODULE:FUNCTION")],
)
def test_the_resume_line_names_the_task_only_when_the_cli_can_import_it(task: str, shown: str) -> None:
    assert summary(task=task).resume_line() == f"pylo resume s3://bucket/prefix {EID} --task {shown}"
