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
