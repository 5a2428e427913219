"""The web view's pictures over raw HTTP: the activity API, the SVG fragment the page reloads,
and text from the store escaped inside the pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tasks
from pylo import Pylo
from pylo.store import Segment


@pytest.mark.parametrize("store_spec", ["local", "s3"], indirect=True)
def test_activity_api_and_pictures_fragment(make_pylo: Any, store_spec: Any, serve: Any) -> None:
    url, options = store_spec
    pylo = make_pylo(block_size=10, task_executions_before_flush=5, max_worker_failures=3)
    eid = pylo.start_from_scratch(range(50), tasks.fail_multiples_of_7, progress=False)
    view = serve(url, options)

    activity = view.json(f"/api/executions/{eid}/activity")
    assert activity["running"] is False and activity["undated_flushes"] == 0
    flushes = activity["flushes"]
    assert {f["worker"] for f in flushes} <= {"0", "1"} and all(f["start"] <= f["end"] for f in flushes)
    concluded = sum(f["finished"] + f["failed"] for f in flushes)
    summary = pylo.summary(eid)
    assert concluded == summary.finished + summary.failed
    assert activity["series"][-1]["done"] == pytest.approx(concluded)
    assert {g["worker"] for g in activity["gave_up"]} == {str(w.worker) for w in summary.workers if w.gave_up}

    status, body, headers = view.get(f"/executions/{eid}/pictures")
    assert status == 200 and headers["content-type"].startswith("text/html")
    # A bar per flush, where flushes a few pixels apart share one.
    assert body.count(b"<svg") == 2 and 0 < body.count(b'data-role="flush"') <= len(flushes)
    status, page, _ = view.get(f"/executions/{eid}")
    assert status == 200 and page.count(b"<svg") >= 3  # the counts' bar, and the two pictures
    assert view.get("/executions/20200101T000000000000Z-00000000/pictures")[0] == 404
    assert view.get("/api/executions/20200101T000000000000Z-00000000/activity")[0] == 404
    assert view.get("/api/executions/not-an-id/activity")[0] == 400


def test_a_worker_name_from_the_store_is_escaped_in_the_pictures(tmp_path: Path, serve: Any) -> None:
    url = str(tmp_path / "store")
    pylo = Pylo.local_multithread(url, number_of_workers=1)
    eid = pylo.start_from_scratch(range(5), tasks.noop, progress=False)
    hostile = Segment(block=0, finished=((0, 1),), worker='<img src=x onerror="alert(1)">', start=1.0e9, end=1.0e9 + 1)
    pylo.store.write_segment(eid, hostile, 77, "a" * 12)
    view = serve(url)
    status, body, _ = view.get(f"/executions/{eid}/pictures")
    assert status == 200 and b"<img" not in body and b"&lt;img src=x" in body
