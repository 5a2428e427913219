"""Results and state read back as Dask bags, on the workers: one read per stored object, counted
against ``get_results`` and ``get_state`` on a real S3 API (a moto server in this process, whose
requests are counted), on local stores, and across a resumed chain."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tasks
from pylo import Pylo

pytestmark = pytest.mark.slow


class CountingS3:
    """A moto S3 server in this process that counts the HTTP requests it answers."""

    def __init__(self) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        self.requests = self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()

        def counting(environ: Any, start_response: Any) -> Any:
            with self._lock:
                self.requests += 1
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                return list(app(environ, start_response))  # the whole answer, while counted in flight
            finally:
                with self._lock:
                    self.in_flight -= 1

        self._server = make_server("127.0.0.1", 0, counting, threaded=True)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def options(self) -> dict[str, Any]:
        return {"key": "testing", "secret": "testing",
                "client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"}}

    def new_store(self) -> str:
        import boto3

        name = f"pylo-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket=name)
        return f"s3://{name}/store"

    def count(self, call: Callable[[], Any]) -> tuple[Any, int]:
        """What ``call`` returns, and how many requests it made."""
        before = self.requests
        out = call()
        return out, self.requests - before

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join()


@pytest.fixture(scope="module")
def counting_s3() -> Iterator[CountingS3]:
    server = CountingS3()
    yield server
    server.close()


def _chain_on_s3(client: Any, s3: CountingS3) -> tuple[Pylo, str, str]:
    """A 400-input execution with failures, flushed often (several results objects per block),
    and its resume."""
    pylo = Pylo.dask(client, s3.new_store(), storage_options=s3.options(), store_results=True, block_size=40,
                     task_executions_before_flush=10)
    eid = pylo.start_from_scratch(range(400), tasks.ten_times_failing_7, progress=False)
    again = pylo.start_from_past_execution(eid, tasks.ok_string, progress=False)
    return pylo, eid, again


def test_results_bag_costs_about_what_get_results_costs_on_s3(dask_client: Any, counting_s3: CountingS3) -> None:
    pylo, eid, again = _chain_on_s3(dask_client, counting_s3)
    for execution in (eid, again):
        expected, streamed = counting_s3.count(lambda: list(pylo.get_results(execution)))
        pairs, as_bag = counting_s3.count(lambda: pylo.results_bag(execution).compute(scheduler=dask_client))
        assert sorted(pairs) == sorted(expected)
        # One read per stored object, as get_results reads them (it was 9 times as many).
        assert as_bag <= streamed, (as_bag, streamed)


def test_results_bag_of_a_resumed_chain_on_s3_reads_each_root_position_once(
    dask_client: Any, counting_s3: CountingS3
) -> None:
    pylo, eid, again = _chain_on_s3(dask_client, counting_s3)
    third = pylo.start_from_past_execution(again, tasks.ok_string, progress=False)  # nothing left to run
    pairs = pylo.results_bag(third).compute(scheduler=dask_client)
    assert sorted(pairs) == sorted(pylo.get_results(third))
    assert sorted(value for value, _ in pairs) == list(range(400))


# -- the state of an execution: a bag and a stream beside get_state ------------------------------


@pytest.fixture(params=["local", "s3"])
def dask_pylo(request: pytest.FixtureRequest, dask_client: Any, tmp_path: Path) -> Pylo:
    if request.param == "local":
        return Pylo.dask(dask_client, tmp_path / "store", block_size=10)
    server = request.getfixturevalue("moto_server")
    return Pylo.dask(dask_client, f"s3://{server.new_bucket()}/store", storage_options=server.options(), block_size=10)


def _assert_state_readers_agree(pylo: Pylo, eid: str, client: Any) -> None:
    finished, unfinished = pylo.get_state(eid)
    assert list(pylo.iter_finished(eid)) == finished
    assert list(pylo.iter_unfinished(eid)) == unfinished
    finished_bag, unfinished_bag = pylo.state_bags(eid)
    assert sorted(finished_bag.compute(scheduler=client)) == sorted(finished)
    assert sorted(unfinished_bag.compute(scheduler=client)) == sorted(unfinished)


def test_state_as_bags_and_streams_is_get_states_answer(dask_pylo: Pylo, dask_client: Any) -> None:
    eid = dask_pylo.start_from_scratch(range(100), tasks.fail_kinds, progress=False)
    assert dask_pylo.summary(eid).failed > 0
    _assert_state_readers_agree(dask_pylo, eid, dask_client)
    # A resume that reruns only the timeouts holds the other failures back, in blocks of their own.
    held = dask_pylo.start_from_past_execution(eid, tasks.ok_string, only=TimeoutError, progress=False)
    assert dask_pylo.get_state(held)[1] == list(range(0, 100, 3))  # the ValueErrors and the retryable ones
    _assert_state_readers_agree(dask_pylo, held, dask_client)
    rest = dask_pylo.start_from_past_execution(held, tasks.ok_string, progress=False)
    assert dask_pylo.get_state(rest) == (list(range(100)), [])
    _assert_state_readers_agree(dask_pylo, rest, dask_client)


def test_get_state_holds_little_more_than_its_two_lists(tmp_path: Path) -> None:
    """Two lists of n ints need about 36 bytes an input (a pointer and the int): reading the state
    peaks at well under twice that, not at the ~200 bytes an input of (position, input) pairs."""
    import gc
    import tracemalloc

    n = 200_000
    pylo = Pylo.local_multithread(tmp_path / "store", number_of_workers=2, max_worker_failures=n)
    eid = pylo.start_from_scratch(range(n), tasks.fail_multiples_of_7, progress=False)
    again = pylo.start_from_past_execution(eid, tasks.noop, progress=False)
    for execution in (eid, again):
        gc.collect()
        tracemalloc.start()
        try:
            finished, unfinished = pylo.get_state(execution)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert len(finished) + len(unfinished) == n
        assert peak / n < 100, f"{execution}: {peak / n:.0f} bytes an input"


def test_a_parent_that_went_on_beside_its_resume_is_read_once(dask_client: Any, tmp_path: Path) -> None:
    """A forced resume while the parent's old workers still ran: both finished some of the same
    inputs. Every reader counts each input once, with the newer run's result."""
    from pylo.store import Segment
    from pylo.store._results import dump_result

    pylo = Pylo.dask(dask_client, tmp_path / "store", block_size=10, store_results=True)
    parent = pylo.start_from_scratch(range(20), tasks.ten_times_failing_7, progress=False)  # 0, 7, 14 fail
    child = pylo.start_from_past_execution(parent, tasks.ok_string, progress=False)
    # The old workers' last flushes, after the resume had been planned.
    manifest = pylo.store.read_manifest(parent)
    for pos, value in ((0, 0), (7, 70)):
        block = next(b.block for b in manifest.blocks if pos in b.positions)
        pylo.store.write_results(parent, block, [pos], [dump_result(value, pos)], 99, "f" * 12)
        pylo.store.write_segment(parent, Segment(block=block, finished=((pos, pos + 1),)), 99, "f" * 12)
    expected = [(x, f"fixed {x}" if x % 7 == 0 else 10 * x) for x in range(20)]
    assert sorted(pylo.results_bag(child).compute(scheduler=dask_client), key=str) == sorted(expected, key=str)
    assert list(pylo.iter_finished(child)) == list(range(20))
    assert sorted(pylo.state_bags(child)[0].compute(scheduler=dask_client)) == list(range(20))


def test_the_awaitable_twins_answer_the_same(dask_client: Any, tmp_path: Path) -> None:
    import asyncio

    pylo = Pylo.dask(dask_client, tmp_path / "store", block_size=10)
    eid = pylo.start_from_scratch(range(45), tasks.fail_multiples_of_7, progress=False)

    async def read() -> tuple[list[Any], list[Any], Any, str]:
        finished = [x async for x in pylo.iter_finished_async(eid, batch=4)]
        unfinished = [x async for x in pylo.iter_unfinished_async(eid, batch=4)]
        bags = await pylo.state_bags_async(eid)
        return finished, unfinished, bags, (await pylo.pictures_async(eid)).timeline_svg

    finished, unfinished, (finished_bag, _), timeline = asyncio.run(read())
    assert (finished, unfinished) == pylo.get_state(eid)
    assert sorted(finished_bag.compute(scheduler=dask_client)) == finished
    assert 'data-role="flush"' in timeline


def test_a_worker_reads_a_bounded_number_of_partitions_at_once(counting_s3: CountingS3) -> None:
    """Sixteen threads compute the bag; at most ``READS_PER_PROCESS`` partitions read at a time,
    each one object after the other here (a block per directory, one results object each)."""
    from pylo.backends._read_bags import READS_PER_PROCESS

    import dask.bag as db

    pylo = Pylo.local_multithread(counting_s3.new_store(), storage_options=counting_s3.options(),
                                  store_results=True, number_of_workers=2)
    inputs = db.from_sequence(range(400), npartitions=40)  # a block per partition: forty partitions
    eid = pylo.start_from_scratch(inputs, tasks.ten_times_failing_7, progress=False)
    bag = pylo.results_bag(eid)
    assert bag.npartitions == 40
    counting_s3.most_in_flight = 0
    assert len(bag.compute(scheduler="threads", num_workers=16)) == 400 - 58
    assert counting_s3.most_in_flight <= READS_PER_PROCESS
