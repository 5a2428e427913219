"""Exception records keep failures as data; a record never breaks loading."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

import tasks
from pylo.store._exception_records import record_failure, decode_records, encode_records, to_record


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


class Unloadable(Exception):
    """Pickled by reference (this module is importable): unpickling calls __init__ with the
    message only, which fails. (tasks.UnloadableError is pickled by value for Dask, and a class
    rebuilt by value may come back differently depending on what this process did before.)"""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"code {code}: {detail}")


def _unloadable(x: int) -> None:
    raise Unloadable(x, "unloadable")


def _round_trips(exc: BaseException) -> bool:
    import pickle

    import cloudpickle

    try:
        pickle.loads(cloudpickle.dumps(exc))
    except Exception:
        return False
    return True


def test_an_exception_that_does_not_unpickle_is_kept_as_text() -> None:
    # In a fresh process: Dask tests elsewhere in the suite install tblib's exception pickling.
    script = """
from pylo.store._exception_records import record_failure, to_record
class Unloadable(Exception):
    def __init__(self, code, detail):
        super().__init__(f"code {code}: {detail}")
try:
    raise Unloadable(1, "unloadable")
except Exception as exc:
    raw = record_failure(exc, position=0, worker=0, attempt=1)
assert raw["pickle"] is None, "kept an exception that does not unpickle"
assert to_record(raw, value=1, position=0).message == "code 1: unloadable"
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize(
    ("task", "loads", "message"),
    [
        (tasks.raise_with_args, True, "code 1: with args"),
        (_unloadable, None, "code 1: unloadable"),
        (tasks.raise_unpicklable, False, "unpicklable 1"),
        (tasks.fail_multiples_of_7, True, "bad input 0"),
        (_broken, True, "<unprintable BrokenStr>"),
    ],
)
def test_capture_round_trips(task: Any, loads: bool | None, message: str) -> None:
    exc = _raised(task, 0 if task is tasks.fail_multiples_of_7 else 1)
    raw = record_failure(exc, position=4, worker=1, attempt=2)
    [back] = decode_records(encode_records([raw]), "path")
    record = to_record(back, value="input", position=40)
    assert (record.input, record.position, record.worker, record.attempt) == ("input", 40, 1, 2)
    assert str(record) == record.message == message
    if loads is None:  # depends on this process: Dask installs tblib's exception pickling
        loads = _round_trips(exc)
    assert (record.exception is not None) is loads
    assert record.traceback.startswith("Traceback")
    assert record.type.endswith(type(exc).__name__)


def test_a_pickle_that_no_longer_loads_becomes_none() -> None:
    raw = record_failure(ValueError("x"), position=0, worker=0, attempt=1)
    raw["pickle"] = "bm90IGEgcGlja2xl"  # base64 of garbage
    assert to_record(raw, value=None, position=0).exception is None


class Huge(Exception):
    """A 10 MB message: kept whole, each attempt's record would be 10+ MB (and its pickle too)."""


def _huge(x: int) -> None:
    raise Huge("head-" + "x" * 10_000_000 + "-tail")


def test_a_huge_exception_is_cut_keeping_head_and_tail() -> None:
    from pylo.store._exception_records import MAX_MESSAGE_CHARS, MAX_TRACEBACK_CHARS

    rec = record_failure(_raised(_huge, 1), position=0, worker=0, attempt=1)
    assert len(rec["message"]) <= MAX_MESSAGE_CHARS and len(rec["traceback"]) <= MAX_TRACEBACK_CHARS
    assert rec["message"].startswith("head-") and rec["message"].endswith("-tail")
    assert "characters cut by pylo" in rec["message"]
    assert "Huge: head-" in rec["traceback"] and rec["traceback"].rstrip().endswith("-tail")
    assert rec["pickle"] is None  # an object too large to keep: its text stays
    assert len(encode_records([rec])) < 100_000
    back = to_record(decode_records(encode_records([rec]), "p")[0], value=1, position=0)
    assert back.exception is None and back.message == rec["message"]


@pytest.mark.parametrize("size", [0, 10, 7_999, 8_000, 8_001, 50_000])
def test_cut_is_exact_at_the_limit(size: int) -> None:
    from pylo.store._exception_records import cut

    text = "".join(chr(ord("a") + i % 26) for i in range(size))
    out = cut(text, 8_000)
    assert len(out) <= 8_000
    assert (out == text) == (size <= 8_000)
    if size > 8_000:
        assert out.startswith(text[:100]) and out.endswith(text[-100:])
