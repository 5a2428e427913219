"""The pictures of an execution from a real run: its segments say which worker wrote each flush
and when, on threads and on Dask; ``Pylo.pictures`` and the notebook view draw them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import tasks
from pylo import Pylo


def _flushes_of(pylo: Pylo, eid: str) -> list[Any]:
    manifest = pylo.store.read_manifest(eid)
    return [seg for found in pylo.store.read_segments(manifest).values() for seg in found]


def test_segments_say_who_wrote_them_and_when_on_threads(tmp_path: Path) -> None:
    before = time.time()
    pylo = Pylo.local_multithread(tmp_path / "store", number_of_workers=2, block_size=10,
                                  task_executions_before_flush=5)
    eid = pylo.start_from_scratch(range(60), tasks.fail_multiples_of_7, progress=False)
    after = time.time()
    segments = _flushes_of(pylo, eid)
    assert {s.worker for s in segments} == {0, 1}
    assert all(before <= s.start <= s.end <= after for s in segments)  # type: ignore[operator]
    pictures = pylo.pictures(eid)
    assert 2 <= pictures.timeline_svg.count('data-role="flush"') <= len(segments)  # close flushes share a bar
    assert 'data-kind="failed"' in pictures.timeline_svg
    assert "60 inputs concluded in" in pictures.throughput_svg
    html = pictures._repr_html_()
    assert html.count("<svg") == 2 and "pylo-pictures" in html


@pytest.mark.slow
def test_segments_say_who_wrote_them_on_dask_and_a_resume_has_pictures_of_its_own(
    dask_client: Any, tmp_path: Path
) -> None:
    pylo = Pylo.dask(dask_client, tmp_path / "store", block_size=10, max_worker_failures=2)
    eid = pylo.start_from_scratch(range(80), tasks.fail_multiples_of_7, progress=False)
    assert {s.worker for s in _flushes_of(pylo, eid)} <= {0, 1}
    timeline = pylo.pictures(eid).timeline_svg
    assert timeline.count('data-role="gave-up"') == len([w for w in pylo.summary(eid).workers if w.gave_up]) > 0
    again = pylo.start_from_past_execution(eid, tasks.noop, progress=False)
    own = pylo.store.read_manifest(again).n_inputs  # what it ran: its parent's unfinished
    assert 0 < own < 80 and f"{own} inputs concluded" in pylo.pictures(again).throughput_svg


def test_the_notebook_view_of_a_run_shows_its_pictures(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(tmp_path / "store", number_of_workers=2)
    run = pylo.submit(range(30), tasks.noop)
    run.wait(60)
    html = run._repr_html_()
    assert "pylo-summary" in html and html.count("<svg") >= 2 and "Workers over time" in html
