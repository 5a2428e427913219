"""A ``dask.bag.Bag`` as inputs: each partition is written to the store by the Dask worker that
computed it, the client learns only counts. On a LocalCluster of processes and on ``dask
scheduler`` / ``dask worker`` processes; and on threads, where partitions are computed locally."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.bag as db
import pytest

import tasks
from pylo import CorruptSnapshot, InputsFailed, Pylo, TaskNotSerializable

pytestmark = pytest.mark.slow


def strings_bag(n: int, partitions: int) -> Any:
    return db.from_sequence(range(n), npartitions=partitions).map_partitions(tasks.partition_of_strings)


def test_bag_inputs_keep_the_bags_order_with_failures(dask_client: Any, tmp_path: Path) -> None:
    pylo = Pylo.dask(dask_client, tmp_path / "store", store_results=True)
    eid = pylo.start_from_scratch(strings_bag(50, 4), tasks.fail_s7, progress=False)
    names = [f"s{x:05d}" for x in range(50)]
    finished, unfinished = pylo.get_state(eid)
    assert finished == [s for i, s in enumerate(names) if i % 7]
    assert unfinished == [s for i, s in enumerate(names) if i % 7 == 0]
    manifest = pylo.store.read_manifest(eid)
    assert [b.count for b in manifest.blocks] == [13, 13, 13, 11]  # one block per partition
    assert list(pylo.get_results(eid)) == [(s, s.upper()) for i, s in enumerate(names) if i % 7]
    # A bag execution resumes like any other.
    again = pylo.start_from_past_execution(eid, tasks.ok_string, progress=False)
    assert pylo.get_state(again) == (names, [])


def test_no_element_crosses_the_client(dask_client: Any, tmp_path: Path) -> None:
    """The inputs refuse to be unpickled in this process: the run, and the results read as a
    bag on the workers, succeed all the same."""
    bag = db.from_sequence(range(30), npartitions=3).map_partitions(
        functools.partial(tasks.guarded_partition, os.getpid()))
    pylo = Pylo.dask(dask_client, tmp_path / "store", store_results=True)
    eid = pylo.start_from_scratch(bag, tasks.double_guarded, progress=False)
    summary = pylo.summary(eid)
    assert (summary.total, summary.finished, summary.failed) == (30, 25, 5)
    doubled = pylo.results_bag(eid).map(lambda pair: pair[1]).compute(scheduler=dask_client)
    assert doubled == [2 * x for x in range(30) if x % 7]
    with pytest.raises(CorruptSnapshot, match="unpickled in the client process"):  # the guard works here
        pylo.get_state(eid)


def test_a_failing_partition_leaves_no_execution(dask_client: Any, tmp_path: Path) -> None:
    bag = db.from_sequence(range(40), npartitions=4).map_partitions(
        functools.partial(tasks.raise_in_partition_with, 25))
    pylo = Pylo.dask(dask_client, tmp_path / "store")
    with pytest.raises(InputsFailed, match=r"partition 2 of the bag failed to compute: RuntimeError: partition with 25") as info:
        pylo.submit(bag, tasks.noop)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert pylo.executions() == []


def test_results_bag_partitions_follow_the_stored_blocks(dask_client: Any, tmp_path: Path) -> None:
    pylo = Pylo.dask(dask_client, tmp_path / "store", store_results=True, block_size=10)
    eid = pylo.start_from_scratch(range(35), tasks.ten_times_failing_7, progress=False)
    again = pylo.start_from_past_execution(eid, tasks.ok_string, progress=False)
    bag = pylo.results_bag(again)
    finished = [b for e in (eid, again) for m in [pylo.store.read_manifest(e)]
                for b, state in zip(m.blocks, pylo.store.read_states(m).values()) if state.finished]
    assert bag.npartitions == len(finished)  # the root's blocks that finished inputs, then the rerun's
    assert sorted(bag.compute(scheduler=dask_client)) == sorted(pylo.get_results(again))


def test_bag_inputs_on_threads(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(tmp_path / "store", number_of_workers=2, store_results=True)
    eid = pylo.start_from_scratch(strings_bag(20, 3), tasks.fail_s7, progress=False)
    assert pylo.get_state(eid)[1] == ["s00000", "s00007", "s00014"]
    bag = db.from_sequence(range(20), npartitions=2).map_partitions(functools.partial(tasks.raise_in_partition_with, 3))
    with pytest.raises(InputsFailed, match="partition 0"):
        pylo.submit(bag, tasks.noop)
    assert pylo.executions() == [eid]


@pytest.fixture
def dask_processes(tmp_path: Path) -> Iterator[str]:
    """A ``dask scheduler`` and a ``dask worker`` process, as an operator starts them."""
    file = tmp_path / "scheduler.json"
    common = ["--no-dashboard"]
    # As on a real cluster, the task code is installed where the graph is unpickled.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(tasks.__file__), os.environ.get("PYTHONPATH", "")])}
    sched = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                              "--port", "0", "--scheduler-file", str(file), *common],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    procs = [sched]
    try:
        deadline = time.monotonic() + 60
        while not file.exists() or not file.read_text().strip():
            assert time.monotonic() < deadline and sched.poll() is None, "the scheduler did not start"
            time.sleep(0.05)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(file),
             "--nthreads", "1", "--nworkers", "2", *common],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        yield str(file)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(30)


def test_bag_on_scheduler_and_worker_processes(dask_processes: str, tmp_path: Path) -> None:
    from distributed import Client

    with Client(scheduler_file=dask_processes) as client:
        client.wait_for_workers(2, timeout=60)
        with Pylo.dask(client, tmp_path / "store", store_results=True) as pylo:
            eid = pylo.start_from_scratch(strings_bag(30, 3), tasks.fail_s7, progress=False)
            assert pylo.summary(eid).failed == 5
            again = pylo.start_from_past_execution(eid, tasks.ok_string, progress=False)
            pairs = list(pylo.get_results(again))
    assert [s for s, _ in pairs] == [f"s{x:05d}" for x in range(30)]
    assert pairs[7] == ("s00007", "fixed s00007") and pairs[8] == ("s00008", "S00008")


def test_a_bag_element_that_cannot_be_stored_is_named(dask_client: Any, tmp_path: Path) -> None:
    bag = db.from_sequence(range(20), npartitions=2).map_partitions(functools.partial(tasks.locks_in_partition_with, 13))
    pylo = Pylo.dask(dask_client, tmp_path / "store")
    with pytest.raises(TaskNotSerializable, match="partition 1 of the bag: input at position 3 cannot be serialized"):
        pylo.submit(bag, tasks.noop)
    assert pylo.executions() == []


def test_bag_inputs_and_results_bag_on_s3(dask_client: Any, moto_server: Any) -> None:
    url = f"s3://{moto_server.new_bucket()}/store"
    pylo = Pylo.dask(dask_client, url, storage_options=moto_server.options(), store_results=True)
    eid = pylo.start_from_scratch(strings_bag(30, 3), tasks.fail_s7, progress=False)
    assert pylo.summary(eid).failed == 5
    pairs = pylo.results_bag(eid).compute(scheduler=dask_client)
    assert pairs == [(f"s{x:05d}", f"S{x:05d}") for x in range(30) if x % 7]


def test_empty_partitions_and_partitions_larger_than_a_block(dask_client: Any, tmp_path: Path) -> None:
    pylo = Pylo.dask(dask_client, tmp_path / "store", block_size=2, store_results=True)
    sparse = db.from_sequence(range(12), npartitions=3).filter(tasks.below_4)  # partitions of 4, 0, 0
    eid = pylo.start_from_scratch(sparse, tasks.ten_times_failing_7, progress=False)
    assert [b.count for b in pylo.store.read_manifest(eid).blocks] == [4, 0, 0]
    assert list(pylo.get_results(eid)) == [(1, 10), (2, 20), (3, 30)]
    assert pylo.summary(eid).complete and pylo.verify(eid).ok
    again = pylo.start_from_past_execution(eid, tasks.ok_string, progress=False)
    assert pylo.get_state(again) == ([0, 1, 2, 3], [])
