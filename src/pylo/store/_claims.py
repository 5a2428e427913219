"""Claims: who is running an execution, or resuming from it, right now.

    {execution}/claims/{gen}.json       taken by a create-only write (O_EXCL locally,
                                        If-None-Match: * on S3): of two clients, one wins
    {execution}/claims/{gen}.released   written by its holder when its run ends

Every object is created once and never changed or deleted. The live claim is the highest
generation without a ``.released`` marker. Taking a claim creates generation ``latest + 1``; when
the latest is still held, that is refused (``ExecutionClaimed``) unless it is *stale* — its holder
was a process on this host that no longer exists, or this very process after its run ended
without releasing it (the store was unreachable then) — or the caller forces it (``force=True``, for a
holder known to be dead on another host). Two clients breaking the same stale claim race for the
same new generation, and the create-only write lets exactly one of them win.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import socket
import uuid

__all__ = ["Claim", "Holder", "hold", "latest", "let_go", "new_holder"]


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds a claim; JSON in the store (no credentials, nothing executable)."""

    token: str
    host: str
    pid: int
    since: str

    def to_json(self) -> bytes:
        return json.dumps({"format": 1, **dataclasses.asdict(self)}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Holder | None:
        """The holder, or ``None`` for an unreadable claim object (treated as stale)."""
        try:
            obj = json.loads(data)
            return cls(token=str(obj["token"]), host=str(obj["host"]), pid=int(obj["pid"]), since=str(obj["since"]))
        except (ValueError, KeyError, TypeError):
            return None

    def is_stale(self) -> bool:
        """True when the holder was a process on this host that has ended, or is this process
        but no run of it holds the claim any more."""
        if self.host != socket.gethostname():
            return False
        if self.pid == os.getpid():
            return self.token not in _LIVE
        return not _alive(self.pid)

    def describe(self) -> str:
        return f"process {self.pid} on {self.host} since {self.since}"


@dataclasses.dataclass(frozen=True)
class Claim:
    """A claim this process holds on ``execution``; give it back with ``Store.release``."""

    execution: str
    generation: int
    holder: Holder


# The tokens of the claims that runs of this process hold now: a process-wide fact, like its pid.
_LIVE: set[str] = set()


def hold(holder: Holder) -> None:
    _LIVE.add(holder.token)


def let_go(holder: Holder) -> None:
    _LIVE.discard(holder.token)


def new_holder() -> Holder:
    return Holder(
        token=uuid.uuid4().hex,
        host=socket.gethostname(),
        pid=os.getpid(),
        since=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True

