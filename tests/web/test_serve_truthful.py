"""The web view tells the truth: a resume with ``only=`` is healthy (held back, not damaged),
and a shortened id works in its URLs as everywhere else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pylo import Pylo
from tests import tasks
from tests.test_truthful import _cli, held  # noqa: F401  (a fixture)


def test_verify_and_the_web_view_read_it_as_healthy(held: tuple[Pylo, str], serve: Any) -> None:
    pylo, eid = held
    assert pylo.verify(eid).ok
    out = _cli("verify", pylo.store.url, eid)
    assert out.returncode == 0, out.stdout + out.stderr
    view = serve(pylo.store.url)
    detail = view.json(f"/api/executions/{eid}")
    assert "damaged" not in detail
    assert detail["status"] == "held_back"
    rows = {r["id"]: r for r in view.json("/api/executions")["executions"]}
    assert "damaged" not in rows[eid] and rows[eid]["status"] == "held_back"
    status, page, _ = view.get(f"/executions/{eid}")
    assert status == 200 and b"held back" in page and b"damaged" not in page


def test_the_web_view_takes_a_shortened_id(tmp_path: Path, serve: Any) -> None:
    pylo = Pylo.local_multithread(tmp_path, 1)
    eid = pylo.start_from_scratch(range(3), tasks.noop, progress=False)
    view = serve(str(tmp_path))
    status, _, headers = view.get(f"/executions/{eid[-8:]}")
    assert status == 302 and headers["location"].endswith(f"/executions/{eid}")
    assert view.json(f"/api/executions/{eid[:18]}")["id"] == eid
    assert view.json(f"/api/executions/{eid[-8:]}/exceptions")["id"] == eid
    assert view.get("/api/executions/20200101T")[0] == 404  # a prefix of no id


def test_an_ambiguous_prefix_says_so_on_the_web(tmp_path: Path, serve: Any) -> None:
    pylo = Pylo.local_multithread(tmp_path, 1)
    first = pylo.start_from_scratch(range(1), tasks.noop, progress=False)
    pylo.start_from_scratch(range(1), tasks.noop, progress=False)
    view = serve(str(tmp_path))
    status, body, _ = view.get(f"/api/executions/{first[:4]}")
    assert status == 400 and b"several executions" in body
