"""How soon a cancel reaches the running workers of a Dask run on an object store (moto's S3).

From a client of the same cluster (the one that launched the run, or another one attached to it)
the cancel travels through Dask itself and is seen at once: no input starts more than ~1 s after
it, whatever the store's cancel poll (20 s by default on object stores). From anywhere else (the
CLI, a client of another cluster) it travels through the store's cancel marker and is seen within
``cancel_poll`` plus the input that was running."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import pytest

import fault_tasks
from _support import wait_for
from pylo import Pylo, Status
from pylo.store import Store
from pylo.store._cadence import OBJECT_STORE

pytestmark = pytest.mark.slow

TASK_SECONDS = 0.2
SAME_CLUSTER_BOUND = 1.0  # seconds after the cancel by which no input starts any more


def _started(pylo: Pylo, calls: Path, **options: Any) -> Any:
    """A run of slow tasks on two workers, once both have started an input."""
    task = functools.partial(fault_tasks.timed, str(calls), TASK_SECONDS)
    run = pylo.submit(range(400), task, **options)
    wait_for(lambda: len(list(calls.glob("starts-*"))) == 2, "both workers to start")
    return run


@pytest.fixture
def s3_pylo(moto_server: Any, dask_client: Any) -> Any:
    pylo = Pylo.dask(dask_client, f"s3://{moto_server.new_bucket()}/store", storage_options=moto_server.options(),
                     number_of_workers=2, block_size=100)
    assert pylo.config.cancel_poll == OBJECT_STORE.cancel_poll  # the store alone would take 20 s
    return pylo


def test_a_cancel_from_the_launching_client_is_seen_within_a_second(s3_pylo: Pylo, tmp_path: Path) -> None:
    run = _started(s3_pylo, tmp_path)
    asked = time.time()
    run.cancel()
    assert run.wait(60) == run.id and run.status is Status.CANCELLED
    assert fault_tasks.last_start(str(tmp_path)) - asked <= SAME_CLUSTER_BOUND
    assert s3_pylo.summary(run.id).pending > 0


def test_a_cancel_from_another_client_of_the_same_cluster_is_seen_within_a_second(
    s3_pylo: Pylo, moto_server: Any, dask_client: Any, tmp_path: Path
) -> None:
    from distributed import Client

    run = _started(s3_pylo, tmp_path)
    with Client(dask_client.scheduler.address) as other_client:
        other = Pylo.dask(other_client, s3_pylo.store.url, storage_options=moto_server.options())
        attached = other.attach(run.id)
        asked = time.time()
        attached.cancel()
        assert run.wait(60) == run.id
        assert attached.wait(60) == run.id and attached.status is Status.CANCELLED
    assert fault_tasks.last_start(str(tmp_path)) - asked <= SAME_CLUSTER_BOUND


def test_a_cancel_through_the_store_alone_is_seen_within_the_cancel_poll(
    moto_server: Any, dask_client: Any, tmp_path: Path
) -> None:
    poll = 2.0  # the default is 20 s on object stores: the same bound, a shorter test
    url, options = f"s3://{moto_server.new_bucket()}/store", moto_server.options()
    pylo = Pylo.dask(dask_client, url, storage_options=options, number_of_workers=2, block_size=100,
                     cancel_poll=poll)
    run = _started(pylo, tmp_path)
    asked = time.time()
    Store(url, options).request_cancel(run.id)  # what a client of another cluster, or the CLI, does
    assert run.wait(60) == run.id
    assert fault_tasks.last_start(str(tmp_path)) - asked <= poll + TASK_SECONDS + 0.5
    assert pylo.summary(run.id).pending > 0
