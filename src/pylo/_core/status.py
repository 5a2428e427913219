"""The status of a run or a job: one enum, one transition table, one function that changes it."""

from __future__ import annotations

import enum

__all__ = ["SETTLED", "Status", "check_transition"]


class Status(str, enum.Enum):
    """``pending → running → done | failed | cancelled``; a settled status is final."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def settled(self) -> bool:
        return self in SETTLED

    def __str__(self) -> str:
        return self.value


#: The final statuses (the one definition; ``Status.settled`` tests one).
SETTLED: frozenset[Status] = frozenset({Status.DONE, Status.FAILED, Status.CANCELLED})

_ALLOWED: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.RUNNING, Status.CANCELLED, Status.FAILED}),
    Status.RUNNING: frozenset({Status.DONE, Status.FAILED, Status.CANCELLED}),
    Status.DONE: frozenset({Status.PENDING}),  # a settled job may be re-run
    Status.FAILED: frozenset({Status.PENDING}),
    Status.CANCELLED: frozenset({Status.PENDING}),
}


def check_transition(old: Status, new: Status) -> Status:
    """Return ``new`` when ``old → new`` is legal, else raise ``RuntimeError``."""
    if new not in _ALLOWED[old]:
        raise RuntimeError(f"illegal status change {old.value} -> {new.value}")
    return new
