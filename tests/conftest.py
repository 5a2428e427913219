"""Real components for every test: a moto S3 server on 127.0.0.1 reached over HTTP through s3fs,
GCS and Azure emulators (see ``buckets``) reached through gcsfs and adlfs, Dask LocalClusters
with worker processes, local directories and fsspec's memory store."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import cloudpickle
import pytest

import tasks
from buckets import Azurite, GcsEmulator, LoopbackServer, bucket_spec

cloudpickle.register_pickle_by_value(tasks)


class MotoServer(LoopbackServer):
    """A moto S3 server in its own process, on a fixed loopback port (so it can be restarted)."""

    what = "moto server"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def options(self) -> dict[str, Any]:
        return {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
        }

    def new_bucket(self) -> str:
        name = f"pylo-{uuid.uuid4().hex[:12]}"
        import boto3

        s3 = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(var, "testing")
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[GcsEmulator]:
    server = GcsEmulator()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    server = Azurite(tmp_path_factory.mktemp("azurite"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """Two Dask worker processes, one thread each."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client


@pytest.fixture(scope="session")
def dask_inproc_client() -> Iterator[Any]:
    """Dask workers in this process: the only way a memory:// store is shared with them."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client


StoreSpec = tuple[str, dict[str, Any]]


@pytest.fixture(params=["memory", "local", "s3"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Any) -> StoreSpec:
    """(store URL, storage_options) of a fresh, empty store."""
    return bucket_spec(request, request.param, tmp_path)


@pytest.fixture(params=["threads", "dask"])
def make_pylo(request: pytest.FixtureRequest, store_spec: StoreSpec) -> Iterator[Callable[..., Any]]:
    """``make_pylo(**options)``: a Pylo on this test's store and backend."""
    from pylo import Pylo

    url, options = store_spec
    made: list[Any] = []

    def make(**kwargs: Any) -> Any:
        if request.param == "threads":
            kwargs.setdefault("number_of_workers", 2)
            pylo = Pylo.local_multithread(url, storage_options=options, **kwargs)
        else:
            fixture = "dask_inproc_client" if url.startswith("memory://") else "dask_client"
            pylo = Pylo.dask(request.getfixturevalue(fixture), url, storage_options=options, **kwargs)
        made.append(pylo)
        return pylo

    yield make
    for pylo in made:
        pylo.close()
