"""Leases: how anyone who reaches the store knows that an execution is still running.

    {execution}/leases/{name}.json     {"format", "name", "writer", "renewed", "expires", "ended"}

Whoever runs part of an execution — each worker, wherever it runs, and the client while it holds a
claim — rewrites its lease every ``interval`` seconds with an expiry a few intervals ahead, and
writes it once more with ``ended`` when it stops. An execution is *alive* while one of its leases
has not ended and has not expired. This is the only object of the store that is rewritten: a lease
is a heartbeat, and a reader that sees either version decides the same way within one interval.

Liveness never comes from process ids: a worker on another host, a client whose kernel died while
its Dask workers go on, all show up here the same way.
"""

from __future__ import annotations

import dataclasses
import json
import time

from ._segments import refuse_unknown_version

__all__ = ["EXPIRY_INTERVALS", "WORKER_LEASE_PREFIX", "Lease", "alive", "is_worker_lease", "worker_lease_name"]

# A lease expires this many renewal intervals after it was written: one late renewal is tolerated.
EXPIRY_INTERVALS = 4
# The leases of an execution's workers are named ``worker-NNNN``; a claim counts every one present.
WORKER_LEASE_PREFIX = "worker-"


@dataclasses.dataclass(frozen=True)
class Lease:
    """One lease; times are seconds since the epoch (UTC) of the writer's clock."""

    name: str
    writer: str
    renewed: float
    expires: float
    ended: bool = False

    @classmethod
    def now(cls, name: str, writer: str, interval: float, *, ended: bool = False, clock: float | None = None) -> Lease:
        t = time.time() if clock is None else clock
        return cls(name=name, writer=writer, renewed=t, expires=t + EXPIRY_INTERVALS * interval, ended=ended)

    def to_json(self) -> bytes:
        return json.dumps({"format": 1, **dataclasses.asdict(self)}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Lease | None:
        """The lease, or ``None`` for an unreadable object (it proves nothing alive). Raises
        ``IncompatibleSnapshot`` for a lease of an unknown format version."""
        try:
            obj = json.loads(data)
            refuse_unknown_version(obj, "a lease object")
            return cls(name=str(obj["name"]), writer=str(obj["writer"]), renewed=float(obj["renewed"]),
                       expires=float(obj["expires"]), ended=bool(obj.get("ended", False)))
        except (ValueError, KeyError, TypeError):
            return None

    def live(self, now: float) -> bool:
        return not self.ended and now < self.expires


def alive(leases: list[Lease], now: float) -> list[Lease]:
    """The leases that prove something still runs at ``now``: neither ended nor expired, nor
    abandoned by this very process (its writer stopped when the store became unreachable and
    could not say so; other processes wait for the lease to expire)."""
    return [lease for lease in leases if lease.live(now) and lease.writer not in _ABANDONED_HERE]


# The writers of the leases this process stopped renewing without being able to end them, and
# the (execution, lease) pairs it knows ended elsewhere (a Dask driver whose workers' tasks all
# failed while the store was unreachable): nothing renews them, whatever their expiry says.
_ABANDONED_HERE: set[str] = set()
_ENDED_HERE: set[tuple[str, str]] = set()


def abandoned_here(writer: str) -> None:
    """Lease writer ``writer`` of this process stopped for good while the store was unreachable."""
    _ABANDONED_HERE.add(writer)


def ended_here(execution: str, name: str) -> None:
    """Lease ``name`` of ``execution`` is known to this process to have stopped for good."""
    _ENDED_HERE.add((execution, name))


def known_ended(execution: str, name: str) -> bool:
    return (execution, name) in _ENDED_HERE


def worker_lease_name(worker: int) -> str:
    """The lease name of worker ``worker`` of an execution."""
    return f"{WORKER_LEASE_PREFIX}{worker:04d}"


def is_worker_lease(name: str) -> bool:
    """Whether ``name`` is a worker's lease (rather than a claiming client's)."""
    return name.startswith(WORKER_LEASE_PREFIX)
