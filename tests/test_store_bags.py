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
from conftest import free_port
from pylo import Pylo

pytestmark = pytest.mark.slow


class CountingS3:
    """A moto S3 server in this process that counts the HTTP requests it answers."""

    def __init__(self) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        self.requests = 0
        self._lock = threading.Lock()

        def counting(environ: Any, start_response: Any) -> Any:
            with self._lock:
                self.requests += 1
            return app(environ, start_response)

        self._server = make_server("127.0.0.1", free_port(), counting, threaded=True)
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
