"""A pylo client in its own process, with its own Dask LocalCluster, for the fault tests.

    python _client.py start  SPEC   submit an execution, write its id to SPEC["id_file"], wait
    python _client.py resume SPEC   resume SPEC["execution"] on a fresh cluster, write the new id

SPEC is JSON: store url, storage_options, log and gate directories, inputs, gates, options, and
optionally "scheduler", the address of a running cluster to use instead of a LocalCluster.
"""

from __future__ import annotations

import functools
import json
import os
import sys

import cloudpickle

import fault_tasks
import tasks
from pylo import Pylo

cloudpickle.register_pickle_by_value(fault_tasks)
cloudpickle.register_pickle_by_value(tasks)


def main(mode: str, spec: dict) -> None:
    from distributed import Client, LocalCluster

    if spec.get("default_cluster"):  # Pylo.dask(None, ...): the LocalCluster that pylo starts itself
        with Pylo.dask(None, spec["url"], storage_options=spec["options"], **spec["pylo"]) as pylo:
            run_client(mode, spec, pylo=pylo)
        return
    if "scheduler" in spec:  # a cluster of its own processes, which outlives this client
        with Client(spec["scheduler"]) as client:
            run_client(mode, spec, client)
        return
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            run_client(mode, spec, client)


def run_client(mode: str, spec: dict, client: object = None, pylo: Pylo | None = None) -> None:
    if pylo is None:
        pylo = Pylo.dask(client, spec["url"], storage_options=spec["options"], **spec["pylo"])
    if mode == "start":
        task = functools.partial(fault_tasks.gated, spec["calls"], spec["gates"], spec["gate_at"])
        run = pylo.submit(range(spec["n"]), task)
        _write(spec["id_file"], run.id)
        try:
            run.wait()
        except KeyboardInterrupt:  # recorded for the test, then let through
            _write(spec["id_file"] + ".interrupted", run.status.value)
            raise
    else:
        task = functools.partial(tasks.log_call, spec["calls"])
        _write(spec["id_file"], pylo.start_from_past_execution(spec["execution"], task, progress=False))


def _write(path: str, text: str) -> None:
    with open(f"{path}.tmp", "w") as fh:
        fh.write(text)
    os.replace(f"{path}.tmp", path)


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]))
