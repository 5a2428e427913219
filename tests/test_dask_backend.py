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

