"""What the Dask driver does when a Pylo worker's task ends: a pure function of the event.

    a worker task ended ─► TaskEnded (what Dask said, the run's state) ─► decide ─► Action
                                                            the driver (``_dask._Driver``) carries it out

No Dask and no I/O here, so every case is a row of a table test.
"""

from __future__ import annotations

import dataclasses
import enum

__all__ = ["Action", "Ended", "TaskEnded", "decide"]


class Ended(enum.Enum):
    """How a worker's task ended, as Dask says."""

    FINISHED = "finished"  # it returned its counts
    KILLED = "killed"  # KilledWorker: its processes died more often than allowed-failures
    CANCELLED = "cancelled"  # by a cancel, or by the client that lost its scheduler
    ERROR = "error"  # the task raised (a store error, a bug)


class Action(enum.Enum):
    """What the driver does about it."""

    COUNT = "count"  # keep the counts it returned
    SKIP_COUNTS = "skip counts"  # it finished, but a block of it was lost: the store counts
    RESUBMIT = "resubmit"  # run it again: its rerun finds the input that kills its process
    LOSE_AND_RESUBMIT = "lose and resubmit"  # no progress since the last death: give up on that block
    FAIL = "fail"  # the run fails with this error; the other workers are asked to stop
    IGNORE = "ignore"


@dataclasses.dataclass(frozen=True)
class TaskEnded:
    """A worker's task ended. ``stale``: an older generation of that worker (resubmitted since);
    ``cancelled``: the run was cancelled; ``failed``: the run has failed already; ``lost``: the
    worker has lost blocks before; ``progressed``: since its last ``KilledWorker``, the store's
    marker of its running input changed (a new input, or one more death counted at one)."""

    ended: Ended
    stale: bool = False
    cancelled: bool = False
    failed: bool = False
    lost: bool = False
    progressed: bool = True


def decide(event: TaskEnded) -> Action:
    """The driver's decision for ``event``. ``KilledWorker`` never ends a run: the task is
    resubmitted, and its block is given up only when a death brought no progress (the process
    died outside any input, so no input can be blamed)."""
    if event.stale:
        return Action.IGNORE
    if event.ended is Ended.FINISHED:
        return Action.SKIP_COUNTS if event.lost else Action.COUNT
    if event.failed or (event.cancelled and event.ended in (Ended.KILLED, Ended.CANCELLED)):
        return Action.IGNORE
    if event.ended is Ended.KILLED:
        return Action.RESUBMIT if event.progressed else Action.LOSE_AND_RESUBMIT
    return Action.FAIL
