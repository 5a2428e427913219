"""Which unfinished inputs a resume reruns (``only=``, ``pending=``): the pure decisions."""

from __future__ import annotations

import pytest

from pylo import ExceptionRecord, InvalidArgument
from pylo._core.rerun import last_failures, matcher, reruns
from pylo._core.timeout import AttemptTimeout
from pylo.store import record_failure, to_record


class AppError(Exception):
    pass


class RetryableAppError(AppError):
    pass


def record_of(exc: BaseException) -> ExceptionRecord:
    return to_record(record_failure(exc, position=3, worker=0, attempt=1), value="x", position=3)


TIMEOUT = record_of(AttemptTimeout("too slow"))
VALUE = record_of(ValueError("bad"))
RETRYABLE = record_of(RetryableAppError("again"))
HERE = __name__


@pytest.mark.parametrize(
    ("only", "record", "expected"),
    [
        (TimeoutError, TIMEOUT, True),  # by a base class: the record keeps the class's bases
        ("TimeoutError", TIMEOUT, True),
        ("AttemptTimeout", TIMEOUT, True),  # the last part of a dotted name
        ("pylo._core.timeout.AttemptTimeout", TIMEOUT, True),
        (TimeoutError, VALUE, False),
        ((TimeoutError, ValueError), VALUE, True),
        ((TimeoutError, "KeyError"), VALUE, False),
        (AppError, RETRYABLE, True),
        (f"{HERE}.AppError", RETRYABLE, True),
        (RetryableAppError, record_of(AppError("base only")), False),  # never the other way round
        (OSError, record_of(ConnectionError("x")), True),
        (lambda r: "bad" in r.message, VALUE, True),
        (lambda r: r.attempt > 1, VALUE, False),
    ],
)
def test_only_matches_on_the_recorded_class_hierarchy(only: object, record: ExceptionRecord, expected: bool) -> None:
    select = matcher(only)  # type: ignore[arg-type]
    assert select is not None and select(record) is expected


def test_a_record_written_before_bases_were_kept_matches_its_own_type_only() -> None:
    raw = record_failure(ValueError("old"), position=0, worker=0, attempt=1)
    del raw["mro"]
    old = to_record(raw, value=0, position=0)
    assert matcher(ValueError)(old) and not matcher(Exception)(old)  # type: ignore[misc]


@pytest.mark.parametrize("bad", [(), "", 3, [ValueError], (ValueError, 3), int])
def test_bad_only_is_refused_naming_the_argument(bad: object) -> None:
    with pytest.raises(InvalidArgument, match="only"):
        matcher(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("last", "attempted", "only", "pending", "expected"),
    [
        (VALUE, True, None, True, True),  # no only: every failure reruns
        (VALUE, True, None, False, True),
        (None, False, None, True, True),  # pending reruns unless pending=False
        (None, False, None, False, False),
        (None, False, TimeoutError, True, True),
        (None, False, TimeoutError, False, False),
        (TIMEOUT, True, TimeoutError, False, True),
        (VALUE, True, TimeoutError, True, False),
        (None, True, None, True, True),  # failed without a record (store_exceptions=False)
        (None, True, TimeoutError, True, False),  # ... cannot match a type: left out
        (TIMEOUT, False, TimeoutError, False, True),  # carried over from a held block: a record, no segment
    ],
)
def test_reruns(last: ExceptionRecord | None, attempted: bool, only: object, pending: bool, expected: bool) -> None:
    assert reruns(last, attempted, matcher(only), pending) is expected  # type: ignore[arg-type]


def test_last_failure_is_the_highest_attempt() -> None:
    raw = [
        {"pos": 1, "attempt": 1, "time": "b", "type": "A"},
        {"pos": 1, "attempt": 2, "time": "a", "type": "B"},
        {"pos": 2, "attempt": 1, "time": "a", "type": "C"},
        {"pos": 2, "attempt": 1, "time": "c", "type": "D"},  # a rerun block wrote it later
    ]
    assert {p: r["type"] for p, r in last_failures(raw).items()} == {1: "B", 2: "D"}
