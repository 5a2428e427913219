"""One status enum, one transition table."""

from __future__ import annotations

import pytest

from pylo import Status
from pylo._core.status import check_transition

LEGAL = [
    (Status.PENDING, Status.RUNNING),
    (Status.PENDING, Status.CANCELLED),
    (Status.RUNNING, Status.DONE),
    (Status.RUNNING, Status.FAILED),
    (Status.RUNNING, Status.CANCELLED),
    (Status.DONE, Status.PENDING),
]
ILLEGAL = [
    (Status.PENDING, Status.DONE),
    (Status.DONE, Status.RUNNING),
    (Status.CANCELLED, Status.DONE),
    (Status.RUNNING, Status.PENDING),
]


@pytest.mark.parametrize(("old", "new"), LEGAL)
def test_legal(old: Status, new: Status) -> None:
    assert check_transition(old, new) is new


@pytest.mark.parametrize(("old", "new"), ILLEGAL)
def test_illegal(old: Status, new: Status) -> None:
    with pytest.raises(RuntimeError, match="illegal"):
        check_transition(old, new)


def test_settled() -> None:
    assert {s for s in Status if s.settled} == {Status.DONE, Status.FAILED, Status.CANCELLED}


def test_settled_is_what_only_a_rerun_leaves() -> None:
    """``SETTLED`` (the one set the engine and conditions use) agrees with the transition table:
    the settled statuses are exactly those a run can only leave by being re-run, and each is
    reachable from running."""
    from pylo._core.status import _ALLOWED, SETTLED

    assert SETTLED == frozenset({Status.DONE, Status.FAILED, Status.CANCELLED})
    assert SETTLED == {s for s, after in _ALLOWED.items() if after == {Status.PENDING}}
    assert SETTLED <= _ALLOWED[Status.RUNNING]
    assert all(check_transition(s, Status.PENDING) is Status.PENDING for s in SETTLED)
