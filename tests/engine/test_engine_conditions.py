"""Conditions are pure functions of job statuses and an injected clock (executor-engine compared
clock fields one by one, and its time conditions changed themselves when asked)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle

import pytest

from pylo import InvalidArgument, Status
from pylo.conditions import (
    AfterAnother,
    AfterClock,
    AfterOthers,
    AfterTimepoint,
    AllSatisfied,
    AnySatisfied,
    Condition,
)

UTC = dt.timezone.utc


@dataclasses.dataclass
class Ctx:
    statuses: dict[str, Status] = dataclasses.field(default_factory=dict)
    now: float = 0.0

    def job_status(self, job_id: str) -> Status | None:
        return self.statuses.get(job_id)

    def time(self) -> float:
        return self.now


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("cond", "statuses", "expected"),
    [
        (AfterAnother("a"), {}, False),
        (AfterAnother("a"), {"a": Status.RUNNING}, False),
        (AfterAnother("a"), {"a": Status.DONE}, True),
        (AfterAnother("a"), {"a": Status.FAILED}, True),
        (AfterAnother("a", statuses=["done"]), {"a": Status.FAILED}, False),
        (AfterAnother("a", statuses="failed"), {"a": Status.FAILED}, True),
        (AfterOthers(["a", "b"]), {"a": Status.DONE}, False),
        (AfterOthers(["a", "b"]), {"a": Status.DONE, "b": Status.CANCELLED}, True),
        (AfterOthers(["a", "b"], mode="any"), {"b": Status.DONE}, True),
        (AfterAnother("a") & AfterAnother("b"), {"a": Status.DONE}, False),
        (AfterAnother("a") | AfterAnother("b"), {"a": Status.DONE}, True),
        (AllSatisfied(conditions=[]), {}, True),
        (AnySatisfied(conditions=[]), {}, False),
    ],
)
def test_status_conditions(cond: Condition, statuses: dict[str, Status], expected: bool) -> None:
    assert cond.satisfy(Ctx(statuses)) is expected


def test_declarations() -> None:
    cond = (AfterAnother("a") | AfterTimepoint(100.0)) & AfterOthers(["b", "c"])
    assert cond.job_ids() == {"a", "b", "c"}
    assert cond.deadline(Ctx(now=50.0)) == 100.0
    assert cond.deadline(Ctx(now=150.0)) is None
    assert Condition().job_ids() is None  # a custom condition declares nothing: polled


def test_combinators_flatten_and_read_well() -> None:
    cond = AfterAnother("a", statuses=["done"]) & AfterAnother("b") & AfterTimepoint(at("2030-01-02T03:04:05"))
    assert isinstance(cond, AllSatisfied) and len(cond.conditions) == 3
    assert repr(cond) == (
        "AllSatisfied(AfterAnother('a', statuses=done), AfterAnother('b', statuses=cancelled|done|failed), "
        "AfterTimepoint(2030-01-02T03:04:05Z))"
    )
    assert repr(AfterOthers(["x"], mode="any")) == "AfterOthers(['x'], statuses=cancelled|done|failed, mode='any')"


def test_time_conditions_follow_the_injected_clock() -> None:
    cond = AfterTimepoint(dt.datetime(2030, 1, 1, tzinfo=UTC))
    ctx = Ctx(now=at("2029-12-31T23:59:59"))
    assert not cond.satisfy(ctx)
    assert cond.deadline(ctx) == at("2030-01-01T00:00:00")
    ctx.now += 1
    assert cond.satisfy(ctx) and cond.deadline(ctx) is None


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2030-05-01T12:29:59", False),
        ("2030-05-01T12:30:00", True),
        ("2030-05-01T13:10:00", True),  # bug 4: the original compared minutes alone (10 < 30)
        ("2030-05-01T23:59:59", True),
        ("2030-05-01T00:00:00", False),
        ("2030-05-01T08:45:30", False),  # the original compared seconds alone (30 >= 0)
    ],
)
def test_after_clock_compares_whole_times_of_day(now: str, expected: bool) -> None:
    cond = AfterClock("12:30", tz=UTC)
    ctx = Ctx(now=at(now))
    assert cond.satisfy(ctx) is expected
    assert cond.deadline(ctx) == (None if expected else at(now[:10] + "T12:30:00"))


def test_evaluation_has_no_side_effects_and_conditions_are_values() -> None:
    """Bug 5: time conditions mutated themselves when evaluated and were shared singletons."""
    cond = AfterTimepoint(100.0) | AfterClock("01:00:00", tz=UTC)
    before = pickle.dumps(cond)
    ctx = Ctx(now=50.0)
    answers = [cond.satisfy(ctx) for _ in range(3)] + [cond.satisfy(Ctx(now=200.0))] + [cond.satisfy(ctx)]
    assert answers == [False, False, False, True, False]
    assert pickle.dumps(cond) == before
    assert AfterTimepoint(100.0) == AfterTimepoint(100.0) and AfterTimepoint(100.0) is not AfterTimepoint(100.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cond.conditions = ()  # type: ignore[misc]


@pytest.mark.parametrize(
    "make",
    [
        lambda: AfterAnother("a", statuses=["finished"]),
        lambda: AfterAnother(""),
        lambda: AfterOthers([]),
        lambda: AfterOthers(["a"], mode="most"),
        lambda: AfterTimepoint("tomorrow"),
        lambda: AfterClock("25:00"),
        lambda: AllSatisfied(conditions=[lambda: True]),
    ],
)
def test_bad_arguments_are_refused(make: object) -> None:
    with pytest.raises(InvalidArgument):
        make()  # type: ignore[operator]


def test_a_job_stands_for_its_id() -> None:
    from pylo.engine import ThreadJob

    job = ThreadJob(print)
    assert AfterAnother(job).job_id == job.id
    assert AfterAnother(job_id=job.id) == AfterAnother(job)
