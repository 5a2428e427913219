"""Executions are listed oldest first, and a resumed one always after its parent, even when the
parent's host had its clock a day ahead (ids sort by their creator's clock)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import tasks
from pylo import Pylo
from pylo.store import new_execution_id, order_by_parents

A, B, C, D = (f"2026112{i}T000000000000Z-0000000{i}" for i in range(4))


@pytest.mark.parametrize(("parents", "expected"), [
    ({A: None, B: None, C: None}, [A, B, C]),
    ({A: None, B: A, C: B}, [A, B, C]),
    ({C: None, A: C, B: A}, [C, A, B]),  # the root's clock ran ahead: its chain follows it
    ({D: None, A: D, B: None, C: A}, [B, D, A, C]),  # B, alone, keeps its place by id
    ({A: "20200101T000000000000Z-00000000", B: None}, [A, B]),  # a parent that is not listed
    ({A: B, B: A, C: None}, [C, A, B]),  # a loop (hand-edited): id order
    ({}, []),
])
def test_order_by_parents(parents: dict[str, str | None], expected: list[str]) -> None:
    assert order_by_parents(parents) == expected


def test_a_parent_from_a_clock_a_day_ahead_still_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pylo = Pylo.local_multithread(tmp_path / "store", number_of_workers=1)
    ahead = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    with monkeypatch.context() as m:
        m.setattr("pylo._core.plan.new_execution_id", lambda: new_execution_id(ahead))
        parent = pylo.start_from_scratch(range(7), tasks.fail_multiples_of_7, progress=False)
    child = pylo.start_from_past_execution(parent, tasks.noop, progress=False)
    assert child < parent  # by id, the child looks older
    assert pylo.executions() == [parent, child]
    assert pylo.executions()[-1] == child  # "the latest" is the resume
