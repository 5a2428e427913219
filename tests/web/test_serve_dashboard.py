"""The web view as pages of a Dask scheduler's own dashboard (``pylo.dashboard``)."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

import dask.config
import pytest

import tasks
from pylo import Pylo


def _cluster_with_pylo_routes(config: dict[str, Any]) -> Any:
    from distributed import LocalCluster

    sys.modules.pop("pylo.dashboard", None)  # the scheduler imports it afresh, with this config
    routes = [*dask.config.get("distributed.scheduler.http.routes"), "pylo.dashboard"]
    with dask.config.set({"distributed.scheduler.http.routes": routes, **config}):
        return LocalCluster(n_workers=1, processes=False, threads_per_worker=1, dashboard_address="127.0.0.1:0")


@pytest.mark.slow
def test_the_dashboard_serves_the_web_view(tmp_path: Any) -> None:
    url = str(tmp_path / "store")
    eid = Pylo.local_multithread(url, number_of_workers=1).start_from_scratch(range(7), tasks.fail_multiples_of_7,
                                                                              progress=False)
    with _cluster_with_pylo_routes({"pylo.web.store": url}) as cluster:
        base = f"http://127.0.0.1:{cluster.scheduler.http_server.port}/pylo"
        with urllib.request.urlopen(f"{base}/api/executions") as reply:
            rows = json.load(reply)["executions"]
        assert [(r["id"], r["finished"], r["failed"]) for r in rows] == [(eid, 6, 1)]
        with urllib.request.urlopen(f"{base}/executions/{eid}") as reply:
            page = reply.read().decode()
        assert f'href="/pylo/executions/{eid}"' in page or f"/pylo/api/executions/{eid}" in page
        assert "/pylo/static/style.css" in page and "unauthenticated" in page
        with urllib.request.urlopen(f"{base}/static/style.css") as reply:
            assert reply.status == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/executions/%2e%2e")
        refused.value.close()  # an HTTPError keeps its response open: its socket would leak
        assert refused.value.code == 400


@pytest.mark.slow
def test_the_dashboard_says_when_no_store_is_configured() -> None:
    with _cluster_with_pylo_routes({"pylo.web.store": None}) as cluster:
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"http://127.0.0.1:{cluster.scheduler.http_server.port}/pylo/")
        with answer.value:  # an HTTPError keeps its response open: its socket would leak
            assert answer.value.code == 503 and b"set pylo.web.store" in answer.value.read()


@pytest.mark.slow
def test_the_dashboard_falls_back_to_the_executions_store(tmp_path: Any) -> None:
    """One ``pylo.store`` in the Dask config serves both the executions and the dashboard."""
    url = str(tmp_path / "store")
    with dask.config.set({"pylo.store": url}):
        eid = Pylo.local_multithread(number_of_workers=1).start_from_scratch(range(3), tasks.noop, progress=False)
    with _cluster_with_pylo_routes({"pylo.web.store": None, "pylo.store": url}) as cluster:
        base = f"http://127.0.0.1:{cluster.scheduler.http_server.port}/pylo"
        with urllib.request.urlopen(f"{base}/api/executions") as reply:
            assert [r["id"] for r in json.load(reply)["executions"]] == [eid]
