"""The Dask driver's decisions when a worker's task ends, as a table: no Dask, no store."""

from __future__ import annotations

import pytest

from pylo.backends._driving import Action, Ended, TaskEnded, decide

F, K, C, E = Ended.FINISHED, Ended.KILLED, Ended.CANCELLED, Ended.ERROR


@pytest.mark.parametrize(
    ("event", "action"),
    [
        # a task of an older generation (resubmitted since): whatever it says
        (TaskEnded(F, stale=True), Action.IGNORE),
        (TaskEnded(K, stale=True), Action.IGNORE),
        (TaskEnded(E, stale=True), Action.IGNORE),
        # finished: its counts, unless a block of it was lost (the store counts then)
        (TaskEnded(F), Action.COUNT),
        (TaskEnded(F, cancelled=True), Action.COUNT),
        (TaskEnded(F, failed=True), Action.COUNT),
        (TaskEnded(F, lost=True), Action.SKIP_COUNTS),
        # KilledWorker never ends a run: resubmitted; its block lost only without progress
        (TaskEnded(K), Action.RESUBMIT),
        (TaskEnded(K, lost=True), Action.RESUBMIT),
        (TaskEnded(K, progressed=False), Action.LOSE_AND_RESUBMIT),
        (TaskEnded(K, cancelled=True), Action.IGNORE),  # the run ends as cancelled
        (TaskEnded(K, failed=True), Action.IGNORE),  # the run failed already: nothing to rerun
        # cancelled: by the run's cancel (ignored), else the client lost its scheduler (fails)
        (TaskEnded(C, cancelled=True), Action.IGNORE),
        (TaskEnded(C), Action.FAIL),
        (TaskEnded(C, failed=True), Action.IGNORE),
        # the task raised (a store error, a bug): the run fails, even when cancelled meanwhile
        (TaskEnded(E), Action.FAIL),
        (TaskEnded(E, cancelled=True), Action.FAIL),
        (TaskEnded(E, failed=True), Action.IGNORE),  # the first error is the run's
    ],
)
def test_decide(event: TaskEnded, action: Action) -> None:
    assert decide(event) is action
