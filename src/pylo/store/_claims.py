"""Claims: who is running an execution, or resuming from it, right now.

    {execution}/claims/{gen}.json       taken by a create-only write (O_EXCL locally,
                                        If-None-Match: * on S3): of two clients, one wins
    {execution}/claims/{gen}.runs       the execution its holder started (for a resume claim)
    {execution}/claims/{gen}.released   written by its holder when its run ends
    {execution}/leases/client-{token}   the holder's heartbeat while it holds the claim

Every claim object is created once and never changed or deleted. The live claim is the highest
generation without a ``.released`` marker. Whether its holder is still at work is read from the
leases (see ``_leases``): the holder's own, and those of the workers of the execution it runs. A
claim none of whose leases is alive is stale and taken over; so a client whose kernel died while
its Dask workers go on still holds its claim — the run goes on — until those workers end.
Two clients breaking the same stale claim race for the same new generation, and the create-only
write lets exactly one of them win.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import socket
import time
import uuid
from typing import Any

from ._segments import refuse_unknown_version

__all__ = ["CLAIM_GRACE", "CLIENT_LEASE_INTERVAL", "Claim", "Holder", "hold", "latest", "let_go", "new_holder"]

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

    def mine(self) -> bool:
        """A claim that a run of this very process holds now (a process-wide fact)."""
        return self.token in _LIVE and self.pid == os.getpid()

    def abandoned_here(self) -> bool:
        """A claim this very process held and no run of it holds any more (its run ended without
        releasing it: the store was unreachable then)."""
        return self.pid == os.getpid() and self.host == socket.gethostname() and self.token not in _LIVE

    def in_grace(self, now: float | None = None) -> bool:
        return ((time.time() if now is None else now) - self.taken) < CLAIM_GRACE

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


def new_holder() -> Holder:
    now = _dt.datetime.now(_dt.timezone.utc)
    return Holder(
        token=uuid.uuid4().hex,
        host=socket.gethostname(),
        pid=os.getpid(),
        since=now.isoformat(timespec="seconds"),
        taken=now.timestamp(),
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
