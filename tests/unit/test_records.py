"""Exception records keep failures as data; a record never breaks loading."""

from __future__ import annotations

from typing import Any

import pytest

import tasks
from pylo.store._records import capture, decode_records, encode_records, to_record


def _raised(fn: Any, *args: Any) -> BaseException:
    try:
        fn(*args)
    except Exception as exc:
        return exc
    raise AssertionError("did not raise")


class BrokenStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def _broken(x: int) -> None:
    raise BrokenStr()


@pytest.mark.parametrize(
    ("task", "loads", "message"),
    [
        (tasks.raise_with_args, True, "code 1: with args"),
        (tasks.raise_unloadable, False, "code 1: unloadable"),
        (tasks.raise_unpicklable, False, "unpicklable 1"),
        (tasks.fail_multiples_of_7, True, "bad input 0"),
        (_broken, True, "<unprintable BrokenStr>"),
    ],
)
def test_capture_round_trips(task: Any, loads: bool, message: str) -> None:
    exc = _raised(task, 0 if task is tasks.fail_multiples_of_7 else 1)
    raw = capture(exc, position=4, worker=1, attempt=2)
    [back] = decode_records(encode_records([raw]), "path")
    record = to_record(back, value="input", position=40)
    assert (record.input, record.position, record.worker, record.attempt) == ("input", 40, 1, 2)
    assert str(record) == record.message == message
    assert (record.exception is not None) is loads
    assert record.traceback.startswith("Traceback")
    assert record.type.endswith(type(exc).__name__)


def test_a_pickle_that_no_longer_loads_becomes_none() -> None:
    raw = capture(ValueError("x"), position=0, worker=0, attempt=1)
    raw["pickle"] = "bm90IGEgcGlja2xl"  # base64 of garbage
    assert to_record(raw, value=None, position=0).exception is None
