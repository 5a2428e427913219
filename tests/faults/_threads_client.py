"""A pylo client on threads in its own process, for the fault tests: it runs a gated task and
records a ``KeyboardInterrupt`` reaching its caller before letting it end the process.

    python _threads_client.py SPEC      SPEC is JSON: store, calls, gates, gate_at, n, id_file
"""

from __future__ import annotations

import functools
import json
import os
import sys

import fault_tasks
from pylo import Pylo


def main(spec: dict) -> None:
    pylo = Pylo.local_multithread(spec["store"], number_of_workers=2, block_size=10,
                                  task_executions_before_flush=1000, flush_interval=60.0)
    task = functools.partial(fault_tasks.gated, spec["calls"], spec["gates"], spec["gate_at"])
    run = pylo.submit(range(spec["n"]), task)
    with open(f"{spec['id_file']}.tmp", "w") as fh:
        fh.write(run.id)
    os.replace(f"{spec['id_file']}.tmp", spec["id_file"])
    try:
        run.wait()
    except KeyboardInterrupt:
        open(spec["id_file"] + ".interrupted", "w").close()
        raise


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
