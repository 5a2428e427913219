"""How often a running worker talks to the store, and what that costs: the request budget.

    per worker, while its tasks are slow (each longer than a window of flushes):
        PUT progress/…/{seq}-{w}  every flush_interval   progress; what a crash costs to rerun
        PUT leases/worker-N.json  every lease_interval   proof of life, expires 4 intervals later
        GET cancel.json           every cancel_poll      a cancel asked from outside the cluster
                                                         (one GET for all the workers of a process)

On local disk a request is a system call: the defaults favour quick answers (a 5 s flush, a 2 s
lease, a cancel marker looked for every 0.2 s). On an object store each is a billed HTTP request
against a per-prefix rate limit, multiplied by the number of workers: the defaults keep a worker
to at most one request every 5 s (720 per worker-hour), **600** with slow tasks that succeed:

    segments 3600/15 = 240   leases 3600/20 = 180   cancel polls 3600/20 = 180

What each buys, and its bound on an object store at these defaults:

- **A crash** reruns at most the work of the last ``flush_interval`` (15 s per worker, 5 s on
  local disk) — or ``task_executions_before_flush`` attempts, whichever comes first. The trade-off
  is an option: ``flush_interval=5`` halves what a crash costs and costs 480 requests more per
  worker-hour (720 segments alone).
- **Liveness**: a worker's lease expires ``EXPIRY_INTERVALS`` (4) lease intervals after it was
  renewed: a worker that died without a word counts as dead 80 s after its last renewal (8 s on
  local disk); one that ends writes ``ended`` and counts as dead at once. Progress is not taken as
  proof of life: whoever judges liveness (a resume, the end of a run) would then have to list an
  execution's segments, a listing that grows with the run, where one lease per worker is one
  small object.
- **Cancel** from a client of the same Dask cluster reaches every running worker through Dask at
  once (``client.run``), and a worker stops after the input it is running; from anywhere else
  (another cluster, the CLI) through the store's marker, within ``cancel_poll`` (20 s; 0.2 s on
  local disk) plus that input. Threads of the same process see a cancel at once.

Failed attempts add one PUT of exception records per flush; a block's start reads its inputs (one
GET, per pack of blocks on an object store).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ._leases import EXPIRY_INTERVALS

__all__ = ["LOCAL", "OBJECT_STORE", "Cadence", "defaults_for"]

SECONDS_PER_HOUR = 3600.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class Cadence:
    """The three periods of a worker's store requests (seconds)."""

    flush_interval: float
    lease_interval: float
    cancel_poll: float

    @property
    def lease_expiry(self) -> float:
        """Seconds after its last renewal that a silent worker counts as dead."""
        return EXPIRY_INTERVALS * self.lease_interval

    def requests_per_hour(self, *, task_seconds: float, flush_every: int = 1000) -> dict[str, float]:
        """Requests per worker-hour by kind, for tasks of ``task_seconds`` that succeed:
        a flush every ``flush_interval`` or every ``flush_every`` attempts, whichever is first."""
        window = min(self.flush_interval, flush_every * task_seconds)
        return {
            "segment PUT": SECONDS_PER_HOUR / window,
            "lease PUT": SECONDS_PER_HOUR / self.lease_interval,
            "cancel GET": SECONDS_PER_HOUR / self.cancel_poll,
        }


#: Local disk: requests are system calls; answers come quickly.
LOCAL = Cadence(flush_interval=5.0, lease_interval=2.0, cancel_poll=0.2)
#: Object stores (S3, GCS, Azure…): at most one request every 5 s per worker (see above).
OBJECT_STORE = Cadence(flush_interval=15.0, lease_interval=20.0, cancel_poll=20.0)


def defaults_for(local: bool, given: Mapping[str, Any]) -> dict[str, float]:
    """The periods a ``Config`` on this kind of store takes when ``given`` does not name them."""
    cadence = LOCAL if local else OBJECT_STORE
    return {f.name: getattr(cadence, f.name) for f in dataclasses.fields(Cadence) if f.name not in given}
