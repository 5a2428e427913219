"""The JSON API of ``pylo serve`` on 127.0.0.1, against stores made by real runs (threads and
Dask; local disk and S3 through a moto server), damaged stores, hostile objects and URLs."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from typing import Any

import pytest

import tasks
from pylo import Pylo
from pylo._core.summary import summarize
from pylo.store import Store

COUNTS = ("total", "finished", "failed", "pending", "inherited")


def _three_executions(make_pylo: Any) -> dict[str, str]:
    """A run whose worker gives up, its resume (all finished), and a run whose inputs all fail."""
    strict = make_pylo(max_worker_failures=1, task_executions_before_flush=5)
    gave_up = strict.start_from_scratch(range(40), tasks.fail_multiples_of_7, progress=False)
    resumed = strict.start_from_past_execution(gave_up, tasks.noop, progress=False)
    failing = make_pylo().start_from_scratch(["a", "b", "c"], tasks.always_fail, progress=False)
    return {"gave_up": gave_up, "resumed": resumed, "failing": failing}


@pytest.mark.parametrize("store_spec", ["local", "s3"], indirect=True)
def test_api_counts_equal_summary(make_pylo: Any, store_spec: Any, serve: Any) -> None:
    url, options = store_spec
    ids = _three_executions(make_pylo)
    view = serve(url, options)
    store = Store(url, options)

    listing = view.json("/api/executions")
    rows = {r["id"]: r for r in listing["executions"]}
    assert set(rows) == set(ids.values())
    for eid in ids.values():
        s = summarize(store, eid)
        assert {k: rows[eid][k] for k in COUNTS} == {k: getattr(s, k) for k in COUNTS}
        detail = view.json(f"/api/executions/{eid}")
        assert {k: detail[k] for k in COUNTS} == {k: getattr(s, k) for k in COUNTS}
        assert detail["workers"] == json.loads(json.dumps([dataclasses.asdict(w) for w in s.workers]))  # as JSON
        groups = view.json(f"/api/executions/{eid}/exceptions")["groups"]
        assert [(g["type"], g["attempts"], g["inputs"], g["message"]) for g in groups] == [
            (k.type, k.attempts, k.inputs, k.message) for k in s.top_exceptions
        ]
        assert all("Traceback" in g["traceback"] for g in groups)

    assert rows[ids["gave_up"]]["status"] == "gave_up"
    assert rows[ids["resumed"]]["status"] == "finished"
    assert rows[ids["failing"]]["status"] == "failed_inputs"
    assert rows[ids["resumed"]]["parent"] == ids["gave_up"]
    assert rows[ids["gave_up"]]["children"] == [ids["resumed"]]
    assert view.json(f"/api/executions/{ids['resumed']}")["chain"] == [ids["gave_up"], ids["resumed"]]
    assert any(w["gave_up"] for w in view.json(f"/api/executions/{ids['gave_up']}")["workers"])
    order = [r["id"] for r in listing["executions"]]
    assert order.index(ids["resumed"]) < order.index(ids["gave_up"])  # a resume above what it resumed


def _bad_json_nested(depth: int) -> bytes:
    return b'{"format": 1, "block": 0, "finished": ' + b"[" * depth + b"]" * depth + b', "failed": [], "retried": []}'


def test_a_damaged_store_shows_damaged_rows_and_the_rest(tmp_path: Any, serve: Any) -> None:
    """Garbage, an object over the size limit, JSON nested too deeply to parse, a FIFO (reading
    it would block forever), a symlink out of the store and a folder linked to the root of the
    disk: each execution holding one is a
    damaged row naming the object; the intact execution is shown in full; the server lives on."""
    url = str(tmp_path / "store")
    pylo = Pylo.local_multithread(url, number_of_workers=1)
    eids = [pylo.start_from_scratch(range(10), tasks.fail_multiples_of_7, progress=False) for _ in range(7)]
    good, garbage, huge, nested, fifo, link, folder_link = eids
    root = tmp_path / "store"
    (root / garbage / "execution.json").write_bytes(b'{"format": 1, "id": ')
    segments = root / huge / "progress" / "000000"
    (segments / "000099-aaaaaaaaaaaa").write_bytes(b" " * 40_000)
    (root / nested / "progress" / "000000" / "000099-aaaaaaaaaaaa").write_bytes(_bad_json_nested(8_000))
    os.mkfifo(root / fifo / "workers" / "0001.json")
    (root / link / "progress" / "000000" / "000099-aaaaaaaaaaaa").symlink_to("/etc/hostname")
    shutil.rmtree(root / folder_link / "progress")
    (root / folder_link / "progress").symlink_to("/")  # listing it would walk the whole disk

    view = serve(url, max_bytes=20_000)
    rows = {r["id"]: r for r in view.json("/api/executions")["executions"]}
    assert set(rows) == set(eids)
    assert "damaged" not in rows[good]
    assert rows[good]["finished"] == summarize(Store(url), good).finished == 8
    assert "not valid JSON" in rows[garbage]["damaged"]
    assert "over the web view's limit" in rows[huge]["damaged"] and "000099-aaaaaaaaaaaa" in rows[huge]["damaged"]
    assert "nested too deeply" in rows[nested]["damaged"]
    assert "not a regular file" in rows[fifo]["damaged"] and "0001.json" in rows[fifo]["damaged"]
    assert "not a regular file" in rows[link]["damaged"]
    assert "a symlink, not a folder" in rows[folder_link]["damaged"]

    status, page, _ = view.get("/")
    assert status == 200
    assert page.count(b"status-damaged") == 6 and good.encode() in page
    for eid in (garbage, huge, nested, fifo, link, folder_link):
        assert "damaged" in view.json(f"/api/executions/{eid}")
        status, page, _ = view.get(f"/executions/{eid}")
        assert status == 200 and b"cannot be read" in page
    assert view.json(f"/api/executions/{good}")["finished"] == 8  # still serving


def test_a_hostile_manifest_cannot_exhaust_the_server(tmp_path: Any, serve: Any) -> None:
    """A manifest that claims a trillion inputs in one block, with a segment that 'finishes' them
    all, would make a summary build a set of a trillion positions: the view refuses to count it."""
    url = str(tmp_path / "store")
    pylo = Pylo.local_multithread(url, number_of_workers=1)
    good = pylo.start_from_scratch(range(3), tasks.noop, progress=False)
    hostile = pylo.start_from_scratch(range(3), tasks.noop, progress=False)
    path = tmp_path / "store" / hostile / "execution.json"
    manifest = json.loads(path.read_text())
    manifest.update(n_inputs=10**12, blocks=[[0, 10**12, 0]])
    path.write_text(json.dumps(manifest))
    segment = {"format": 1, "block": 0, "finished": [[0, 10**12]], "failed": [], "retried": []}
    (tmp_path / "store" / hostile / "progress" / "000000" / "000099-aaaaaaaaaaaa").write_text(json.dumps(segment))

    view = serve(url)
    rows = {r["id"]: r for r in view.json("/api/executions")["executions"]}
    damage = rows[hostile]["damaged"]  # refused by the store's own manifest check, or by the view's
    assert "execution.json" in damage and ("more than the web view counts" in damage or "does not follow" in damage)
    assert rows[good]["status"] == "finished"


@pytest.mark.parametrize("path", [
    "/executions/..",
    "/executions/%2e%2e",
    "/executions/%2E%2E%2Fexecution.json",
    "/api/executions/..",
    "/api/executions/%2e%2e",
    "/api/executions/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/api/executions/..%2F..%2Fetc%2Fpasswd",
    "/api/executions/%2Fetc%2Fpasswd",
    "/api/executions//etc/passwd",
    "/api/executions/%2e%2e/exceptions",
    "/static/../../../pyproject.toml",
    "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
    "/static//etc/passwd",
    "/static/%2Fetc%2Fpasswd",
    "/..%2f..%2fetc%2fpasswd",
])
def test_paths_that_try_to_escape_are_refused(tmp_path: Any, serve: Any, path: str) -> None:
    url = str(tmp_path / "store")
    Pylo.local_multithread(url, number_of_workers=1).start_from_scratch([1], tasks.noop, progress=False)
    view = serve(url)
    status, body, _ = view.get(path)
    assert status in (400, 403, 404), (path, status)
    for secret in (b"root:", b"[build-system]", b'"n_inputs"'):
        assert secret not in body


def test_unknown_and_malformed_ids(tmp_path: Any, serve: Any) -> None:
    url = str(tmp_path / "store")
    Pylo.local_multithread(url, number_of_workers=1).start_from_scratch([1], tasks.noop, progress=False)
    view = serve(url)
    status, body, headers = view.get("/api/executions/20200101T000000000000Z-00000000")
    assert status == 404 and headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"] == "no such execution in this store"
    status, body, _ = view.get("/api/executions/not-an-id")
    assert status == 400 and json.loads(body)["error"] == "not a pylo execution id"
    assert view.get("/executions/not-an-id")[0] == 400
    assert view.get("/api/nothing")[0] == 404
    assert view.get("/nothing")[0] == 404


def test_pages_are_read_only_and_self_contained(tmp_path: Any, serve: Any) -> None:
    """Only GET exists; scripts and styles come from this server (no CDN: the machine may be
    offline), and a store's text cannot inject markup."""
    url = str(tmp_path / "store")
    pylo = Pylo.local_multithread(url, number_of_workers=1)
    eid = pylo.start_from_scratch([{"name": "<script>alert(1)</script>", "bad": True}], tasks.fail_flagged,
                                  progress=False)
    view = serve(url)
    status, page, headers = view.get(f"/executions/{eid}")
    assert status == 200
    assert "script-src 'self'" in headers["content-security-policy"]
    assert b"<script>alert(1)</script>" not in page and b"&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert b"http://" not in page.replace(url.encode(), b"") and b"https://" not in page
    conn_status = _request(view, "POST", f"/api/executions/{eid}")
    assert conn_status == 405
    for asset in ("/static/style.css", "/static/live.js"):
        assert view.get(asset)[0] == 200


def _request(view: Any, method: str, path: str) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", int(view.url.rsplit(":", 1)[1]), timeout=30)
    try:
        conn.request(method, path, body=b"{}")
        return conn.getresponse().status
    finally:
        conn.close()


def test_the_page_says_when_the_view_is_exposed(tmp_path: Any) -> None:
    """Bound beyond loopback the page warns that anyone reaching it can read the store. (The
    test only binds 127.0.0.1: the warning is decided from the address it was asked for.)"""
    from pylo._ui.web import View, ViewStore, WebServer, bind, is_loopback, url_of

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    url = str(tmp_path / "store")
    Pylo.local_multithread(url, number_of_workers=1).start_from_scratch([1], tasks.noop, progress=False)
    sockets = bind("127.0.0.1", 0)
    view = View(store=ViewStore(url), exposed=True, address="http://0.0.0.0:8321")
    with WebServer(view, "127.0.0.1", sockets) as server:
        import urllib.request

        with urllib.request.urlopen(url_of("127.0.0.1", sockets) + "/") as reply:
            page = reply.read().decode()
        assert server.url.startswith("http://127.0.0.1:")
    assert "This view is unauthenticated: anyone who can reach http://0.0.0.0:8321" in page


def test_jobs_page_and_api(tmp_path: Any, serve: Any) -> None:
    from pylo.conditions import AfterAnother
    from pylo.engine import Engine, ThreadJob

    store = tmp_path / "store"
    with Engine(store=store) as engine:
        ok = ThreadJob(tasks.noop, (1,), name="adding")
        bad = ThreadJob(tasks.always_fail, ("kaput",), name="booming")
        after = ThreadJob(tasks.noop, (0,), name="after", condition=AfterAnother(ok.id))
        for job in (ok, bad, after):
            engine.submit(job)
        engine.wait()
    (store / "jobs" / ("f" * 32 + ".json")).write_bytes(b"not json")

    view = serve(store)
    jobs = {j["id"]: j for j in view.json("/api/jobs")["jobs"]}
    assert {jobs[ok.id]["status"], jobs[bad.id]["status"], jobs[after.id]["status"]} == {"done", "failed"}
    assert jobs[bad.id]["status"] == "failed" and "kaput" in jobs[bad.id]["error"]
    assert jobs[ok.id]["kind"] == "thread" and jobs[ok.id]["attempts"] >= 1
    assert ok.id in jobs[after.id]["condition"]
    assert "not JSON" in jobs["f" * 32]["damaged"]
    status, page, _ = view.get("/jobs")
    assert status == 200 and b"booming" in page and b"status-damaged" in page


@pytest.mark.slow
def test_an_unreachable_store_is_a_503_not_damaged_rows(moto_server: Any, serve: Any) -> None:
    url = f"s3://{moto_server.new_bucket()}/store"
    options = moto_server.options()
    eid = Pylo.local_multithread(url, number_of_workers=1, storage_options=options).start_from_scratch(
        range(3), tasks.noop, progress=False)
    view = serve(url, options)
    assert view.json(f"/api/executions/{eid}")["status"] == "finished"
    moto_server.stop()
    try:
        for path in (f"/api/executions/{eid}",):  # pages go through the same read: one is enough
            status, body, _ = view.get(path)
            assert status == 503, (path, status, body[:300])
            assert b"the store cannot be reached" in body
    finally:
        moto_server.start()


def test_a_damaged_s3_store_shows_damaged_rows_and_the_rest(moto_server: Any, serve: Any) -> None:
    import fsspec

    url = f"s3://{moto_server.new_bucket()}/store"
    options = moto_server.options()
    pylo = Pylo.local_multithread(url, number_of_workers=1, storage_options=options)
    good, oversized = (pylo.start_from_scratch(range(5), tasks.noop, progress=False) for _ in range(2))
    fs = fsspec.filesystem("s3", **options)
    root = url[len("s3://"):]
    fs.pipe_file(f"{root}/20200101T000000000000Z-0000dead/execution.json", b"\x00garbage")
    fs.pipe_file(f"{root}/{oversized}/progress/000000/000099-aaaaaaaaaaaa", b"x" * 30_000)

    view = serve(url, options, max_bytes=20_000)
    rows = {r["id"]: r for r in view.json("/api/executions")["executions"]}
    assert rows[good]["finished"] == 5 and rows[good]["status"] == "finished"
    assert "not valid JSON" in rows["20200101T000000000000Z-0000dead"]["damaged"]
    assert "over the web view's limit" in rows[oversized]["damaged"]


def test_the_filter_keeps_rows_with_every_word(tmp_path: Any, serve: Any) -> None:
    url = str(tmp_path / "store")
    pylo = Pylo.local_multithread(url, number_of_workers=1)
    failing = pylo.start_from_scratch([1, 7], tasks.fail_multiples_of_7, progress=False)
    fine = pylo.start_from_scratch([1], tasks.noop, progress=False)
    view = serve(url)

    def ids(query: str) -> list[str]:
        return [r["id"] for r in view.json(f"/api/executions?q={query}")["executions"]]

    assert ids("") == [fine, failing]
    assert ids("noop") == [fine]
    assert ids("FAILED_INPUTS+multiples") == [failing]
    assert ids("noop+multiples") == []
    assert ids(failing[-8:]) == [failing]
    status, page, _ = view.get("/?q=noop")
    assert status == 200 and fine.encode() in page and failing.encode() not in page


@pytest.mark.parametrize("link, shown", [
    ("http://scheduler:8787/status", True),
    ("javascript:alert(1)", False),
    ('http://x/"><script>', False),
    (["not", "a", "string"], False),
])
def test_a_dashboard_link_recorded_in_the_manifest(tmp_path: Any, serve: Any, link: Any, shown: bool) -> None:
    """Manifests do not record the dashboard yet; when a writer adds a ``dashboard`` field the
    page links to it, but only to an http(s) address."""
    url = str(tmp_path / "store")
    eid = Pylo.local_multithread(url, number_of_workers=1).start_from_scratch([1], tasks.noop, progress=False)
    path = tmp_path / "store" / eid / "execution.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "dashboard": link}))
    view = serve(url)
    assert view.json(f"/api/executions/{eid}")["dashboard"] == (link if shown else None)
    page = view.get(f"/executions/{eid}")[1].decode()
    assert ("Dask dashboard" in page) is shown


def test_the_view_says_why_a_run_stopped_past_its_tolerance(tmp_path: Any, serve: Any) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1, block_size=10, max_failures=2)
    eid = pylo.start_from_scratch(range(40), tasks.fail_multiples_of_7, progress=False)
    view = serve(str(tmp_path / "s"))
    why = "gave up: 3 failed inputs, tolerance 2"
    [row] = view.json("/api/executions")["executions"]
    assert (row["status"], row["reason"]) == ("over_tolerance", why)
    detail = view.json(f"/api/executions/{eid}")
    assert (detail["reason"], detail["tolerance"]) == (why, "2 failed inputs")
    status, body, _ = view.get(f"/executions/{eid}")
    assert status == 200 and why in body.decode() and "over tolerance" in body.decode()
