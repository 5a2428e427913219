"""What the Dask backend answers about a cluster that has no worker yet. A real cluster, in
this process."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from distributed import Client, LocalCluster

from pylo.backends import _dask
from pylo.backends._dask import DaskBackend


@pytest.fixture(scope="module")
def empty_cluster() -> Iterator[Any]:
    """A scheduler without workers."""
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        yield cluster


def test_a_cluster_without_workers_is_planned_one_pylo_worker_after_the_wait(
    empty_cluster: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_dask, "WAIT_FOR_WORKERS", 0.2)
    with Client(empty_cluster) as client, caplog.at_level(logging.WARNING, logger=_dask.__name__):
        assert DaskBackend(client).default_workers() == 1
    assert "no Dask worker after 0.2 s" in caplog.text



def _fail() -> None:
    raise ValueError("a worker task that failed")


def test_the_counts_of_finished_worker_tasks_are_read_at_once_and_the_others_left_to_be_read_alone(
    dask_inproc_client: Any,
) -> None:
    from distributed import wait

    client = dask_inproc_client
    finished = client.map(dict, [{"finished": 3}, {"finished": 4}], pure=False)
    failed = client.submit(_fail, pure=False)
    wait([*finished, failed])
    got = _dask.finished_counts(client, [*finished, failed])
    assert got == {str(finished[0].key): {"finished": 3}, str(finished[1].key): {"finished": 4}}
    client.cancel(finished[1])
    assert _dask.finished_counts(client, finished) == {}  # one is no batch: read alone


def test_workers_of_one_process_that_start_together_read_the_manifest_once(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import tasks
    from gates import SecondCaller
    from pylo import Config
    from pylo._core.plan import plan_execution
    from pylo.store import Manifest, Store
    from pylo.store._shared_calls import SharedCalls

    store = Store(str(tmp_path / "store"))
    planned = plan_execution(store, range(40), tasks.noop, Config(), 4)
    reads: SharedCalls[Manifest] = SharedCalls()
    gate = SecondCaller()
    reads._lock = gate  # type: ignore[assignment]  # observed: when the second caller has looked
    monkeypatch.setattr(_dask, "_MANIFEST_READS", reads)
    inside, release = threading.Event(), threading.Event()
    decoded: list[str] = []
    real = store.read_manifest

    def slow(eid: str) -> Manifest:
        decoded.append(eid)
        inside.set()
        assert release.wait(30)
        return real(eid)

    store.read_manifest = slow  # type: ignore[method-assign]
    got: list[Manifest] = []
    first = threading.Thread(target=lambda: got.append(_dask._manifest(store, planned.id)))
    first.start()
    assert inside.wait(30)
    second = threading.Thread(target=lambda: got.append(_dask._manifest(store, planned.id)))
    second.start()
    assert gate.second.wait(30)  # the second found the first's read under way
    release.set()
    first.join(30)
    second.join(30)
    assert decoded == [planned.id] and got[0] is got[1]
    assert _dask._manifest(store, planned.id) is got[0] and decoded == [planned.id]  # kept for the next ones
