"""Weekday conditions, asked at times the test chooses: their answer and the one wake-up each
declares (the next midnight at which the answer changes), without sleeping."""

from __future__ import annotations

import datetime as dt

import pytest

from pylo._core.status import Status
from pylo.conditions import AfterWeekday, BeforeWeekday

UTC = dt.timezone.utc
WEDNESDAY_NOON = dt.datetime(2026, 12, 2, 12, tzinfo=UTC)  # 2026-12-02 is a Wednesday


class At:
    def __init__(self, when: dt.datetime) -> None:
        self.when = when

    def time(self) -> float:
        return self.when.timestamp()

    def job_status(self, job_id: str) -> Status | None:
        return None


def midnight(day: int) -> float:
    """Midnight (UTC) starting day ``day`` of December 2026."""
    return dt.datetime(2026, 12, day, tzinfo=UTC).timestamp()


@pytest.mark.parametrize("condition, holds, wakes_at", [
    (AfterWeekday("mon", tz=UTC), True, None),
    (AfterWeekday("wednesday", tz=UTC), True, None),
    (AfterWeekday("fri", tz=UTC), False, midnight(4)),  # Friday 4th
    (AfterWeekday(6, tz=UTC), False, midnight(6)),  # Sunday 6th
    (BeforeWeekday("wed", tz=UTC), True, None),
    (BeforeWeekday("sun", tz=UTC), True, None),
    (BeforeWeekday("tue", tz=UTC), False, midnight(7)),  # the next Monday
])
def test_weekday_windows_answer_and_declare_when_they_change(condition, holds: bool, wakes_at: float | None) -> None:
    ctx = At(WEDNESDAY_NOON)
    assert condition.satisfy(ctx) is holds
    assert condition.deadline(ctx) == wakes_at
    assert condition.job_ids() == frozenset()


def test_at_the_declared_deadline_the_answer_has_changed() -> None:
    for condition in (AfterWeekday("sat", tz=UTC), BeforeWeekday("mon", tz=UTC)):
        deadline = condition.deadline(At(WEDNESDAY_NOON))
        assert deadline is not None
        assert condition.satisfy(At(dt.datetime.fromtimestamp(deadline, UTC))) is True


def test_reprs_name_the_day() -> None:
    assert repr(AfterWeekday("friday")) == "AfterWeekday('fri')"
    assert repr(BeforeWeekday(0)) == "BeforeWeekday('mon')"
