"""Dask jobs: conditions between Dask jobs are Dask dependencies, checked at the scheduler."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import engine_tasks
from pylo import Status
from pylo.conditions import AfterAnother, AfterTimepoint
from pylo.engine import DaskJob, Engine, ThreadJob
from pylo.errors import InvalidArgument
from pylo.engine import _dask_client as _dask

from engine_helpers import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def dask_engine(dask_client: Any) -> Any:
    with Engine(dask_client=dask_client) as eng:
        yield eng


def test_after_another_is_a_dependency_on_the_settled_future(dask_engine: Engine, dask_client: Any, tmp_path: Any) -> None:
    release = tmp_path / "release"
    up = DaskJob(engine_tasks.wait_for_file, (str(release),))
    down = DaskJob(engine_tasks.add, (1, 2), condition=AfterAnother(up.id, statuses=["done"]))
    dask_engine.submit(up)
    dask_engine.submit(down)
    try:
        wait_for(lambda: dask_engine.dask_key(down) is not None)
        key = dask_engine.dask_key(down)
        wait_for(lambda: _dask.dependencies(dask_client, key) != [])  # submitting is asynchronous
        assert _dask.dependencies(dask_client, key) == [dask_engine.dask_key(up)]  # the scheduler holds the gate
        assert down.status is Status.PENDING
    finally:
        release.touch()  # never leave a Dask worker blocked for the next test
    assert down.result(60) == 3 and up.status is Status.DONE


def test_status_filter_is_honoured_on_dask(dask_engine: Engine, dask_client: Any) -> None:
    bad = DaskJob(engine_tasks.boom)
    on_failure = DaskJob(engine_tasks.add, (2, 2), condition=AfterAnother(bad.id, statuses=["failed"]))
    on_success = DaskJob(engine_tasks.add, (3, 3), condition=AfterAnother(bad.id, statuses=["done"]))
    taking_result = DaskJob(engine_tasks.identity, (bad,))
    for job in (bad, on_failure, on_success, taking_result):
        dask_engine.submit(job)
    dask_engine.wait(60)
    assert bad.status is Status.FAILED and isinstance(bad.error, ValueError)
    assert on_failure.result() == 4
    assert on_success.status is Status.CANCELLED and taking_result.status is Status.CANCELLED
    assert dask_engine.gated_on_dask(on_failure) and dask_engine.gated_on_dask(on_success)


def test_results_flow_between_dask_jobs(dask_engine: Engine) -> None:
    first = DaskJob(engine_tasks.add, (1, 2))
    second = DaskJob(engine_tasks.add, (first, 10))
    third = DaskJob(engine_tasks.add, (second, first))
    for job in (first, second, third):
        dask_engine.submit(job)
    assert third.result(60) == 16
    assert dask_engine.gated_on_dask(second) and dask_engine.gated_on_dask(third)


def test_mixed_conditions_are_decided_by_the_engine(dask_engine: Engine) -> None:
    up = ThreadJob(engine_tasks.add, (1, 1))
    down = DaskJob(engine_tasks.add, (up, 1), condition=AfterTimepoint(0.0))
    dask_engine.submit(up)
    dask_engine.submit(down)
    assert down.result(60) == 3 and not dask_engine.gated_on_dask(down)


def test_owned_dask_client_is_closed_with_the_engine() -> None:
    """Bug 13: the Dask client was never closed."""
    with Engine() as eng:
        assert eng.submit(DaskJob(engine_tasks.add, (1, 1))).result(120) == 2
        client = eng.dask_client
        cluster = client.cluster
    assert client.status == "closed" and cluster.status.name == "closed"


def test_distributed_is_imported_only_by_the_dask_module() -> None:
    import pylo.engine as engine_pkg

    sources = [m for name, m in sys.modules.items() if name.startswith("pylo.engine") and name != "pylo.engine._dask_client"]
    for module in sources:
        text = Path(module.__file__).read_text() if getattr(module, "__file__", None) else ""
        assert "from distributed" not in text and "import distributed" not in text, module.__name__
    assert engine_pkg.DaskJob.__module__ == "pylo.engine"  # its public path, though defined in _dask_job


def test_an_asynchronous_client_runs_dask_jobs() -> None:
    """executor-engine's engines take an asynchronous client, set on the engine from async code."""
    import asyncio

    from distributed import Client, LocalCluster

    async def main() -> tuple[int, list[int]]:
        async with LocalCluster(n_workers=1, processes=False, asynchronous=True, dashboard_address=None) as cluster:
            async with Client(cluster, asynchronous=True) as client:
                engine = Engine()
                engine.dask_client = client
                assert engine.dask_client is client
                job = DaskJob(engine_tasks.async_add, (1, 2))
                gen = DaskJob(engine_tasks.async_count_up, (3,))
                await engine.submit_async(job, gen)
                values = [v async for v in gen.result()]
                await job.join(timeout=60)
                engine.stop()
                return job.result(), values

    assert asyncio.run(main()) == (3, [0, 1, 2])


def test_the_engines_own_client_can_be_closed_by_awaiting_it_inside_asyncio_run() -> None:
    """Code written for executor-engine, whose clients are asynchronous, ends its coroutine with
    ``await engine.dask_client.close()``; the engine's own (synchronous) client accepts that too."""
    import asyncio

    engine = Engine()

    async def main() -> tuple[Any, Any]:
        job = DaskJob(engine_tasks.add, (2, 3))
        await engine.submit_async(job)
        await job.join(timeout=120)
        client = engine.dask_client
        await client.close()
        return job.result(), client.status

    try:
        assert asyncio.run(main()) == (5, "closed")
    finally:
        engine.stop()


def test_the_engines_own_client_still_closes_without_await() -> None:
    with Engine() as eng:
        client = eng.dask_client
        client.close()
        assert client.status == "closed"


def test_only_an_asynchronous_client_can_be_set_on_the_engine(dask_client: Any) -> None:
    """``engine.dask_client = client`` is executor-engine's way to give the engine a client, and
    it takes asynchronous clients only: a synchronous one is refused with a ``ValueError`` and the
    engine keeps the client it had. The constructor takes either kind."""
    engine = Engine(dask_client=dask_client)
    with pytest.raises(InvalidArgument, match="asynchronous") as refused:
        engine.dask_client = dask_client
    assert isinstance(refused.value, ValueError)
    with pytest.raises(InvalidArgument):
        engine.dask_client = "tcp://127.0.0.1:1"  # an address is the constructor's to take, too
    with engine:
        assert engine.dask_client is dask_client
        job = DaskJob(engine_tasks.add, (4, 4))
        assert engine.submit(job).result(120) == 8
    assert dask_client.status == "running"  # a client the engine was given is not the engine's to close
