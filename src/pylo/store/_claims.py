"""Claims: who is running an execution, or resuming from it, right now — and the rules that
decide whether a claim still holds. Everything here is pure: ``_claiming`` reads the store, asks
``judge`` and carries its verdict out.

    {execution}/claims/{gen}.json       taken by a create-only write (O_EXCL locally,
                                        If-None-Match: * on S3): of two clients, one wins
    {execution}/claims/{gen}.runs       the execution its holder started (for a resume claim)
    {execution}/claims/{gen}.released   written by its holder when its run ends
    {execution}/leases/client-{token}   the holder's heartbeat while it holds the claim

Every claim object is created once and never changed or deleted. The live claim is the highest
generation without a ``.released`` marker. Whether it still holds is read from the leases (see
``_leases``): the holder's own, those of the claimed execution's workers, and every lease of the
execution the holder started. A client whose kernel died while its Dask workers go on therefore
keeps its claim — the run goes on, and a resume is refused however late it comes — until the last
of those workers ends. A claim none of whose leases is alive is stale and taken over. Two clients
breaking the same stale claim race for the same new generation, and the create-only write lets
exactly one of them win.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any

from .._clock import utc_text
from ._leases import Lease, is_worker_lease
from ._segments import refuse_unknown_version

__all__ = [
    "CLAIM_GRACE",
    "CLIENT_LEASE_INTERVAL",
    "Claim",
    "Here",
    "Holder",
    "Seen",
    "Verdict",
    "hold",
    "is_alive",
    "judge",
    "latest",
    "let_go",
    "new_holder",
]

# How often a claiming client renews its lease (seconds), and how long a claim counts as alive
# before its holder's first lease can have been written.
CLIENT_LEASE_INTERVAL = 2.0
CLAIM_GRACE = 5.0


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds a claim; JSON in the store (no credentials, nothing executable)."""

    token: str
    host: str
    pid: int
    since: str
    taken: float = 0.0  # seconds since the epoch, for the grace before its first lease

    def to_json(self) -> bytes:
        return json.dumps({"format": 1, **dataclasses.asdict(self)}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Holder | None:
        """The holder, or ``None`` for an unreadable claim object (treated as stale). Raises
        ``IncompatibleSnapshot`` for a claim of an unknown format version."""
        try:
            obj = json.loads(data)
            refuse_unknown_version(obj, "a claim object")
            return cls(token=str(obj["token"]), host=str(obj["host"]), pid=int(obj["pid"]),
                       since=str(obj["since"]), taken=float(obj.get("taken", 0.0)))
        except (ValueError, KeyError, TypeError):
            return None

    @property
    def lease_name(self) -> str:
        return f"client-{self.token[:12]}"

    def in_grace(self, now: float) -> bool:
        """Taken less than ``CLAIM_GRACE`` s before ``now``: its first lease may not exist yet."""
        return now - self.taken < CLAIM_GRACE

    def describe(self) -> str:
        return f"process {self.pid} on {self.host} since {self.since}"


@dataclasses.dataclass(frozen=True)
class Claim:
    """A claim this process holds on ``execution``; give it back with ``Store.release``.

    ``took_over`` names the execution that the previous holder had started, when this claim was
    taken over from it (``force=True``): a resume continues from there, so nothing runs twice."""

    execution: str
    generation: int
    holder: Holder
    heartbeat: Any = dataclasses.field(default=None, compare=False, repr=False)
    took_over: str | None = None


# The tokens of the claims that runs of this process hold now: a process-wide fact, like its pid.
_LIVE: set[str] = set()


def hold(holder: Holder) -> None:
    _LIVE.add(holder.token)


def let_go(holder: Holder) -> None:
    _LIVE.discard(holder.token)


def new_holder(now: float | None = None) -> Holder:
    """A fresh holder for this process; ``now``: seconds since the epoch (the store's clock)."""
    taken = time.time() if now is None else now
    return Holder(
        token=uuid.uuid4().hex,
        host=socket.gethostname(),
        pid=os.getpid(),
        since=utc_text(taken, timespec="seconds"),
        taken=taken,
    )


def latest(names: list[str]) -> tuple[int, bool]:
    """(highest claim generation or 0, whether it was released) from the names in ``claims/``."""
    taken: set[int] = set()
    released: set[int] = set()
    for name in names:
        stem, _, kind = name.partition(".")
        if stem.isdigit() and kind in ("json", "released"):
            (taken if kind == "json" else released).add(int(stem))
    gen = max(taken, default=0)
    return gen, gen in released


# -- the rules ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Here:
    """This process, as the claim rules see it: who it is, and the claims its runs hold now."""

    pid: int
    host: str
    holding: frozenset[str] = frozenset()

    @classmethod
    def now(cls) -> Here:
        return cls(os.getpid(), socket.gethostname(), frozenset(_LIVE))

    def holds(self, holder: Holder) -> bool:
        """A run of this very process holds ``holder``'s claim now."""
        return holder.token in self.holding and holder.pid == self.pid

    def abandoned(self, holder: Holder) -> bool:
        """This process held ``holder``'s claim and no run of it holds it any more: its run ended
        without releasing it (the store was unreachable then), so nothing of that run goes on."""
        return holder.pid == self.pid and holder.host == self.host and holder.token not in self.holding


@dataclasses.dataclass(frozen=True)
class Seen:
    """What the store holds of a claim nobody released, read once and then judged.

    ``holder``: ``None`` when the claim object is unreadable. ``runs``: the execution its holder
    started (a resume), when it said. ``leases``: every lease of the claimed execution;
    ``run_leases``: every lease of ``runs``."""

    holder: Holder | None
    runs: str | None = None
    leases: Sequence[Lease] = ()
    run_leases: Sequence[Lease] = ()


class Verdict(enum.Enum):
    """What a client that wants a claim may do about the live one."""

    TAKE_OVER = "take over"  # nothing of it is alive: the claim is stale
    REFUSE = "refuse"  # it is alive, and the caller did not force
    REFUSE_OWN = "refuse own"  # alive and held by this very process: force cannot stop our own run
    STOP_FIRST = "stop first"  # alive; forced: ask its run to stop, wait until nothing lives, take over


def is_alive(seen: Seen, now: float, here: Here) -> bool:
    """Whether the claim ``seen`` still holds at ``now`` (seconds since the epoch).

    Alive while its holder's lease is, or a lease of one of the claimed execution's workers (all
    ``worker-*`` leases present, whatever the planned worker count: workers may join), or any
    lease of the run it started; and for ``CLAIM_GRACE`` s after it was taken, before its holder
    can have written a lease. The client's lease alone never decides: its workers outlive it."""
    holder = seen.holder
    if holder is None:
        return False
    if here.holds(holder):
        return True
    if here.abandoned(holder):
        return False
    if any(lease.live(now) and (lease.name == holder.lease_name or is_worker_lease(lease.name))
           for lease in seen.leases):
        return True
    if any(lease.live(now) for lease in seen.run_leases):
        return True
    return seen.runs is None and holder.in_grace(now)


def judge(seen: Seen, *, now: float, force: bool, here: Here) -> Verdict:
    """What a client (in ``here``) asking for the claim may do about the live claim ``seen``."""
    if not is_alive(seen, now, here):
        return Verdict.TAKE_OVER
    if not force:
        return Verdict.REFUSE
    assert seen.holder is not None  # an unreadable claim is never alive
    if here.holds(seen.holder):
        return Verdict.REFUSE_OWN
    return Verdict.STOP_FIRST
